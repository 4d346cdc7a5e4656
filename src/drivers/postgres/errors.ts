import type { ErrorCode } from '../../core/errors.js';

/**
 * How PostgreSQL's errors (node-postgres's, and the socket's under it) are told apart. Plain code,
 * loading no driver: the CLI asks it about every error it reports (see ../errors.ts).
 */

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

/** Connection-level failures: the server went away or is restarting; worth retrying mid-run. */
export function isConnectionError(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  // 25P03: the server ended a session idle in its transaction for too long (see commit.ts).
  if (CONNECTION_CODES.has(code) || code.startsWith('08') || code === '25P03' || code === '57P01' || code === '57P02' || code === '57P03') return true;
  const message = typeof e?.message === 'string' ? e.message : '';
  return /Connection terminated|connection timeout|Client has encountered a connection error|not queryable/i.test(message);
}

export const STATEMENT_TIMEOUT = 'a statement of es ran past statement_timeout: raise it for es (its role, or options=-c statement_timeout=… in the URL)';

/** A statement cancelled by the server (statement_timeout, or pg_cancel_backend). */
export function isStatementTimeout(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '57014';
}

/** The server was there and went away (shut down, restarting, a terminated backend). */
export function isDroppedConnection(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  if (e?.code === '57P01' || e?.code === '57P02' || e?.code === '57P03' || e?.code === 'ECONNRESET') return true;
  return typeof e?.message === 'string' && /Connection terminated unexpectedly/.test(e.message);
}

/** What the CLI says, and which exit code it gives, for an error of PostgreSQL's that reached it; null when not one. */
export function classifyError(error: unknown): { code: ErrorCode; message: string } | null {
  if (isStatementTimeout(error)) return { code: 'ENVIRONMENT', message: `${STATEMENT_TIMEOUT} (${(error as Error).message})` };
  if (isConnectionError(error)) {
    return { code: 'ENVIRONMENT', message: `lost the connection to the event store, and retrying did not bring it back: ${(error as Error).message}` };
  }
  return null;
}
