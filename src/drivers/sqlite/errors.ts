import type { ErrorCode } from '../../core/errors.js';

/**
 * How SQLite's errors (better-sqlite3's SqliteError, with SQLite's extended result code as `code`,
 * e.g. SQLITE_BUSY_SNAPSHOT) are told apart. Plain code, loading no driver: the CLI asks it about
 * every error it reports (see ../errors.ts).
 */

const codeOf = (error: unknown): string => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
};

/** Another connection holds the write lock (past the busy timeout, or at once when no handler waits). */
export const isBusy = (error: unknown): boolean => codeOf(error).startsWith('SQLITE_BUSY');

/** Busy, or a table locked by another connection: worth trying again. */
export const isBusyOrLocked = (error: unknown): boolean => /^SQLITE_(BUSY|LOCKED)/.test(codeOf(error));

/** A write to a database this process may only read. */
export const isReadOnly = (error: unknown): boolean => codeOf(error).startsWith('SQLITE_READONLY');

/** A store that went bad after it opened (truncated under us, disk full): the environment's fault. */
export const isDamaged = (error: unknown): boolean => /^SQLITE_(CORRUPT|NOTADB|CANTOPEN|FULL|IOERR|READONLY)/.test(codeOf(error));

/** What the CLI says, and which exit code it gives, for an error of SQLite's that reached it; null when not one. */
export function classifyError(error: unknown): { code: ErrorCode; message: string } | null {
  if (isBusyOrLocked(error)) {
    return { code: 'LOCKED', message: 'the event store is busy: another process held its write lock for over 30s; try again later' };
  }
  if (isDamaged(error)) return { code: 'ENVIRONMENT', message: `the event store cannot be used: ${(error as Error).message}` };
  return null;
}
