import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { default as SqliteConstructor, Database } from 'better-sqlite3';
import { environment } from '../../core/errors.js';
import { isThenable } from '../../core/maybe.js';
import type { Target } from '../../ports/target.js';
import { sqliteHandledIds, sqliteMarks } from './handled.js';
import { isBusy } from './errors.js';
import { withStatementCache } from './statement-cache.js';
import { sqliteShadowSpace } from './shadow.js';

const BUSY_TIMEOUT_MS = 30_000;
export const SYNC_TARGET =
  'returned a Promise: handlers, setup and reset on a SQLite target must be synchronous (better-sqlite3 transactions cannot span an await)';

/** A read model in a SQLite file of its own; the file and its folder are created when missing. */
export function openSqliteTarget(path: string, display: string): Target<Database> {
  const Sqlite = createRequire(import.meta.url)('better-sqlite3') as typeof SqliteConstructor;
  let db: Database;
  try {
    mkdirSync(dirname(path), { recursive: true });
    // As the store's connection: a handler's db.prepare(sql) per event compiles once.
    db = withStatementCache(new Sqlite(path, { timeout: BUSY_TIMEOUT_MS }));
    db.pragma('journal_mode = WAL');
  } catch (error) {
    throw environment(`${display}: cannot open (${(error as Error).message})`, error);
  }
  const inTransaction = <T>(work: (db: Database) => T | Promise<T>): T => {
    const result = work(db);
    if (isThenable(result)) {
      // Nobody will await it: keep its rejection from crashing the process.
      Promise.resolve(result).catch(() => {});
      throw new Error(`the read model's code ${SYNC_TARGET}`);
    }
    return result as T;
  };
  return {
    display,
    synchronous: true,
    handled: (conn) => sqliteHandledIds(conn),
    marks: (conn) => sqliteMarks(conn),
    isTransient: isBusy,
    transaction: async (work) => db.transaction(() => inTransaction(work)).immediate(),
    withConnection: async (work) => work(db),
    shadowSpace: (name, slot) => sqliteShadowSpace({ path, db }, name, slot),
    close: async () => {
      if (db.open) db.close();
    },
  };
}
