import type { Database } from 'better-sqlite3';
import type { HandledIds } from '../../ports/handled.js';
import { detectDialect } from './detect.js';
import { mysqlHandledIds, type MysqlQueryable } from '../mysql/handled.js';
import { postgresHandledIds, type PgQueryable } from '../postgres/handled.js';
import { sqliteHandledIds } from '../sqlite/handled.js';
import type { Dialect } from './types.js';

export { detectDialect } from './detect.js';
export { PRUNE_CHUNK, TABLE as HANDLED_TABLE, type Dialect, type HandledEntry, type PruneQuery } from './types.js';
export type { HandledIds } from '../../ports/handled.js';

/**
 * The handled-id table (`es_handled`) through a database object of any driver es knows, for
 * applications that consume what es published. On SQLite every method returns its value directly
 * (better-sqlite3 is synchronous, so they work inside a synchronous transaction); on PostgreSQL
 * and MariaDB/MySQL they return promises.
 */
export function handledIds(db: unknown): HandledIds & { readonly dialect: Dialect } {
  const dialect = detectDialect(db);
  switch (dialect) {
    case 'sqlite':
      return { dialect, ...sqliteHandledIds(db as Database) };
    case 'postgres':
      return { dialect, ...postgresHandledIds(db as PgQueryable) };
    case 'mysql':
      return { dialect, ...mysqlHandledIds(db as MysqlQueryable) };
    default:
      throw new TypeError('es_handled: not a database es knows: pass a better-sqlite3 Database, a node-postgres client or a mysql2 promise connection');
  }
}
