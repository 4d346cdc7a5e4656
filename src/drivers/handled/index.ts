import type { Database } from 'better-sqlite3';
import { detectDialect } from './detect.js';
import {
  clearHandledMysql,
  ensureHandledMysql,
  handledAmongMysql,
  pruneHandledMysql,
  recordHandledMysql,
  type MysqlQueryable,
} from '../mysql/handled.js';
import {
  clearHandledPostgres,
  ensureHandledPostgres,
  handledAmongPostgres,
  pruneHandledPostgres,
  recordHandledPostgres,
  type PgQueryable,
} from '../postgres/handled.js';
import { clearHandledSqlite, ensureHandledSqlite, handledAmongSqlite, pruneHandledSqlite, recordHandledSqlite } from '../sqlite/handled.js';
import type { Dialect, HandledEntry, PruneQuery } from './types.js';

export { detectDialect } from './detect.js';
export { PRUNE_CHUNK, TABLE as HANDLED_TABLE, type Dialect, type HandledEntry, type PruneQuery } from './types.js';

type Maybe<T> = T | Promise<T>;

/**
 * The handled-id table (`es_handled`) through one database object. On SQLite every method returns
 * its value directly (better-sqlite3 is synchronous, so they work inside a synchronous
 * transaction); on PostgreSQL and MariaDB/MySQL they return promises. `among` and `record` belong
 * in the caller's transaction, beside the writes they guard; `prune` wants no open transaction, as
 * each of its chunks commits on its own.
 */
export interface HandledIds {
  readonly dialect: Dialect;
  /** Creates the table and its pruning index when missing. */
  ensure(): Maybe<void>;
  /** Which of `ids` the projection has handled: one query for a whole batch. */
  among(projection: string, ids: readonly string[]): Maybe<Set<string>>;
  /** Records ids, a duplicate being a no-op; returns how many were new. */
  record(projection: string, entries: readonly HandledEntry[], at?: Date): Maybe<number>;
  /** Forgets the projection's ids: all of them, or those at or after `fromPosition`. */
  clear(projection: string, fromPosition?: number): Maybe<number>;
  /** Removes ids older than `before` and at or below `atOrBelow`, in bounded chunks. */
  prune(query: PruneQuery): Maybe<number>;
}

export function handledIds(db: unknown): HandledIds {
  const dialect = detectDialect(db);
  switch (dialect) {
    case 'sqlite': {
      const d = db as Database;
      return {
        dialect,
        ensure: () => ensureHandledSqlite(d),
        among: (p, ids) => handledAmongSqlite(d, p, ids),
        record: (p, entries, at) => recordHandledSqlite(d, p, entries, at),
        clear: (p, from) => clearHandledSqlite(d, p, from),
        prune: (q) => pruneHandledSqlite(d, q),
      };
    }
    case 'postgres': {
      const c = db as PgQueryable;
      return {
        dialect,
        ensure: () => ensureHandledPostgres(c),
        among: (p, ids) => handledAmongPostgres(c, p, ids),
        record: (p, entries, at) => recordHandledPostgres(c, p, entries, at),
        clear: (p, from) => clearHandledPostgres(c, p, from),
        prune: (q) => pruneHandledPostgres(c, q),
      };
    }
    case 'mysql': {
      const c = db as MysqlQueryable;
      return {
        dialect,
        ensure: () => ensureHandledMysql(c),
        among: (p, ids) => handledAmongMysql(c, p, ids),
        record: (p, entries, at) => recordHandledMysql(c, p, entries, at),
        clear: (p, from) => clearHandledMysql(c, p, from),
        prune: (q) => pruneHandledMysql(c, q),
      };
    }
    default:
      throw new TypeError(
        'es_handled: not a database es knows: pass a better-sqlite3 Database, a node-postgres client or a mysql2 promise connection',
      );
  }
}
