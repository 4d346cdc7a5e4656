import type pg from 'pg';
import { environment, usage } from '../../core/errors.js';
import { registerSecret } from '../../core/secrets.js';
import type { Target } from '../../ports/target.js';
import { CONNECT_TIMEOUT_MS, loadPg } from './connect.js';
import { isConnectionError } from './errors.js';
import { KEEPALIVE_DELAY_MS, STATEMENT_TIMEOUT_MS } from '../limits.js';
import { postgresHandledIds, postgresMarks } from './handled.js';
import { pgShadowSpace } from './shadow.js';
import { pooledTransaction } from './tx.js';

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
/** Serialization failure and deadlock: the transaction is worth running again. */
const RETRYABLE = new Set(['40001', '40P01']);

/** node-postgres's query_timeout: the server did not answer; the client is then unusable. */
const isSilence = (error: unknown): boolean => /^Query read timeout$/.test(String((error as { message?: unknown } | null)?.message));
const isLost = (error: unknown): boolean => isConnectionError(error) || isSilence(error);

/**
 * A read model in PostgreSQL: tables in the server's search_path, or in `?schema=<name>` (created
 * when missing). node-postgres is loaded here, on first use, as for the store.
 */
export async function openPostgresTarget(url: string, display: string): Promise<Target<pg.PoolClient>> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw usage('a PostgreSQL target URL cannot be parsed (a password holding / @ : ? # must be percent-encoded)');
  }
  if (parsed.password) registerSecret(decodeURIComponent(parsed.password));
  registerSecret(parsed.searchParams.get('password') ?? undefined);
  registerSecret(process.env.PGPASSWORD);
  const schema = parsed.searchParams.get('schema');
  if (schema !== null && !IDENTIFIER.test(schema)) throw usage(`${display}: schema "${schema}" is not a plain identifier`);
  parsed.searchParams.delete('schema');
  const { Pool } = await loadPg();
  const pool = new Pool({
    connectionString: parsed.toString(),
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    max: 2,
    application_name: 'es-target',
    // Client-side: a link that stays open but goes silent fails the statement instead of hanging.
    query_timeout: STATEMENT_TIMEOUT_MS,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_DELAY_MS,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  try {
    const client = await pool.connect();
    try {
      if (schema)
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`).catch((e: { code?: string }) => {
          if (e.code !== '23505' && e.code !== '42P06') throw e;
        });
    } finally {
      client.release();
    }
  } catch (error) {
    await pool.end().catch(() => {});
    throw environment(`${display}: cannot connect (${(error as Error).message})`, error);
  }
  const isTransient = (error: unknown): boolean => isLost(error) || RETRYABLE.has(String((error as { code?: unknown } | null)?.code));
  const withClient = async <T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> => {
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      return await work(client);
    } catch (error) {
      if (isLost(error)) broken = error as Error;
      throw error;
    } finally {
      client.release(broken);
    }
  };
  return {
    display,
    synchronous: false,
    handled: (conn) => postgresHandledIds(conn),
    marks: (conn) => postgresMarks(conn),
    isTransient,
    // A silent client would queue ROLLBACK behind its stuck statement; destroyed, it rolls back.
    transaction: (work) => pooledTransaction(pool, async (client) => work(client), { isLost }),
    withConnection: (work) => withClient(async (client) => work(client)),
    shadowSpace: (name, slot) => pgShadowSpace({ pool, isTransient, display }, name, slot) as never,
    close: () => pool.end(),
  };
}
