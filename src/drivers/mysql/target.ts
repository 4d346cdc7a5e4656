import type { Socket } from 'node:net';
import type * as Mysql from 'mysql2/promise';
import type { Pool, PoolConnection } from 'mysql2/promise';
import { environment, usage } from '../../core/errors.js';
import { registerSecret } from '../../core/secrets.js';
import { loadDriver } from '../require-driver.js';
import type { Target } from '../../ports/target.js';
import { MAX_ID_BYTES } from './handled.js';
import { KEEPALIVE_DELAY_MS, STATEMENT_TIMEOUT_MS } from '../limits.js';
import { mysqlHandledIds, mysqlMarks } from './handled.js';
import { mysqlShadowSpace } from './shadow.js';
import { inTransaction } from './tx.js';

const CONNECT_TIMEOUT_MS = 10_000;
const TRANSIENT = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'ER_LOCK_DEADLOCK',
  'ER_LOCK_WAIT_TIMEOUT',
  'ER_SERVER_SHUTDOWN',
]);

/** A read model in MariaDB or MySQL (mysql2, loaded on first use). `mariadb://` is `mysql://`. */
export async function openMysqlTarget(url: string, display: string): Promise<Target<PoolConnection>> {
  let parsed: URL;
  try {
    parsed = new URL(url.replace(/^mariadb:/i, 'mysql:'));
  } catch {
    throw usage('a MySQL/MariaDB target URL cannot be parsed (a password holding / @ : ? # must be percent-encoded)');
  }
  if (parsed.password) registerSecret(decodeURIComponent(parsed.password));
  const scheme = /^mariadb:/i.test(url) ? 'mariadb://' : 'mysql://';
  const { createPool } = await loadDriver<typeof Mysql>('mysql2/promise', scheme);
  const pool: Pool = createPool({
    uri: parsed.toString(),
    connectionLimit: 2,
    connectTimeout: CONNECT_TIMEOUT_MS,
    enableKeepAlive: true,
    keepAliveInitialDelay: KEEPALIVE_DELAY_MS,
  });
  try {
    const conn = await pool.getConnection();
    conn.release();
  } catch (error) {
    await pool.end().catch(() => {});
    throw environment(`${display}: cannot connect (${(error as Error).message})`, error);
  }
  const isTransient = (error: unknown): boolean => TRANSIENT.has(String((error as { code?: unknown } | null)?.code));
  const withConn = async <T>(work: (conn: PoolConnection) => Promise<T>): Promise<T> => {
    const conn = await pool.getConnection();
    const stop = silenceLimit(conn);
    let broken = false;
    try {
      return await work(conn);
    } catch (error) {
      broken = isTransient(error);
      throw error;
    } finally {
      stop();
      // A connection that failed mid-way is not handed out again.
      if (broken) conn.destroy();
      else conn.release();
    }
  };
  return {
    display,
    synchronous: false,
    handled: (conn) => mysqlHandledIds(conn),
    marks: (conn) => mysqlMarks(conn),
    maxIdBytes: MAX_ID_BYTES,
    isTransient,
    transaction: (work) => withConn((conn) => inTransaction(conn, work)),
    withConnection: (work) => withConn(async (conn) => work(conn)),
    shadowSpace: (name, slot) => mysqlShadowSpace({ database: decodeURIComponent(parsed.pathname.slice(1)), display, isTransient, withConn }, name, slot),
    close: () => pool.end(),
  };
}

/**
 * While es holds a connection, a socket silent for STATEMENT_TIMEOUT_MS is destroyed: the statement
 * in flight (any of them: query, prepare, execute, COMMIT) fails with ETIMEDOUT, a transient error,
 * instead of waiting for ever on a link that stays open but no longer answers. Returns the undo.
 */
function silenceLimit(conn: PoolConnection): () => void {
  const socket = (conn.connection as unknown as { stream?: Socket }).stream;
  if (!socket || typeof socket.setTimeout !== 'function') return () => {};
  const onSilence = (): void => {
    const error = Object.assign(new Error(`no answer from the server in ${STATEMENT_TIMEOUT_MS / 1000}s`), { code: 'ETIMEDOUT' });
    socket.destroy(error);
  };
  socket.setTimeout(STATEMENT_TIMEOUT_MS, onSilence);
  return () => {
    socket.setTimeout(0);
    socket.off('timeout', onSilence);
  };
}
