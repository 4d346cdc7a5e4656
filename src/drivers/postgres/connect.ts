import { userInfo } from 'node:os';
import type pg from 'pg';
import { type EsError, environment } from '../../core/errors.js';
import { registerSecret } from '../../core/secrets.js';
import { loadDriver } from '../require-driver.js';
import { STATEMENT_TIMEOUT, isConnectionError } from './errors.js';
import type { PostgresLocation } from './url.js';

/** A server that cannot be reached fails within this, never hangs. */
export const CONNECT_TIMEOUT_MS = 10_000;
export const MIN_SERVER_VERSION = 130000;

/** Why a first connection failed, in one line a user can act on. */
export function describeConnectFailure(error: unknown, location: PostgresLocation): EsError {
  const e = error as { code?: string; message?: string };
  const where = location.display;
  const message = e.message ?? String(error);
  if (e.code === '28P01' || e.code === '28000') return environment(`${where}: authentication failed (${message})`, error);
  if (e.code === '3D000') return environment(`${where}: ${message}; es never creates the database, create it first`, error);
  if (e.code === '57014') return environment(`${where}: ${STATEMENT_TIMEOUT} (${message})`, error);
  if (/timeout/i.test(message)) return environment(`${where}: no answer within ${CONNECT_TIMEOUT_MS / 1000}s (${message})`, error);
  if (isConnectionError(error)) return environment(`${where}: cannot connect (${message})`, error);
  return environment(`${where}: ${message}`, error);
}

/**
 * node-postgres, loaded on first use: a static import would load the driver at every start of every
 * command, SQLite ones included, and it is an optional peer dependency that may not be installed.
 */
export function loadPg(): Promise<typeof pg> {
  return loadDriver<typeof pg>('pg', 'postgres://');
}

/** libpq's default when neither the URL nor PGUSER names a user: the operating-system user. */
function withDefaultUser(connectionString: string): string {
  const url = new URL(connectionString);
  if (url.username || process.env.PGUSER) return connectionString;
  url.username = encodeURIComponent(userInfo().username);
  return url.toString();
}

/** Checks a new connection before its first use; `done(error)` refuses it. */
export type VerifyConnection = (client: pg.ClientBase, done: (error?: Error) => void) => void;

/**
 * The bounds of the lease connections (renewals, takeovers, heartbeats): none of them ever waits
 * long. A takeover or renewal that meets a row lock gives up after `lock_timeout` and is tried
 * again; a taker paused inside its short transaction has its session ended by the server; a
 * query that gets no answer at all (a link that went silent) fails on this side.
 */
export const LEASE_BOUNDS: Partial<pg.PoolConfig> = {
  lock_timeout: 1000,
  idle_in_transaction_session_timeout: 2000,
  query_timeout: 4000,
};

/** TCP keepalives: a peer gone without a word (a partition, a host that died) is found, on both sides. */
const KEEPALIVE_DELAY_MS = 10_000;

/** `driver` is what loadPg resolved to. */
export function createPool(driver: typeof pg, location: PostgresLocation, max = 6, bounds: Partial<pg.PoolConfig> = {}, verify?: VerifyConnection): pg.Pool {
  registerSecret(process.env.PGPASSWORD);
  const pool = new driver.Pool({
    connectionString: withDefaultUser(location.connectionString),
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    max,
    application_name: 'es',
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_DELAY_MS,
    ...bounds,
    ...(verify ? { verify } : {}),
  });
  // A client whose server went away emits 'error' (the pool's while idle, the client's own while
  // checked out); unheard, it would crash the process. The next query on it fails instead, and that
  // failure is what the caller sees, retries or reports.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/** Refuses a server older than PostgreSQL 13, naming its version (`server_version_num`, e.g. 120004 or 90624). */
export function refuseOldServer(versionNum: number, display: string): void {
  if (versionNum >= MIN_SERVER_VERSION) return;
  // Before 10 a major version had two parts (9.6); from 10 on, one.
  const major = versionNum >= 100000 ? String(Math.floor(versionNum / 10000)) : `${Math.floor(versionNum / 10000)}.${Math.floor(versionNum / 100) % 100}`;
  throw environment(`${display}: PostgreSQL ${major} is too old; es needs PostgreSQL 13 or later`);
}

export async function checkServerVersion(client: pg.PoolClient, display: string): Promise<void> {
  const { rows } = await client.query<{ v: string }>('SELECT current_setting($1) AS v', ['server_version_num']);
  refuseOldServer(Number(rows[0]?.v ?? 0), display);
}
