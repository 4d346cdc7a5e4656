import type { Dialect } from './types.js';

const fn = (value: unknown, key: string): boolean => typeof (value as Record<string, unknown> | null)?.[key] === 'function';

/**
 * Which driver a database object comes from: a better-sqlite3 `Database`, a node-postgres client
 * (or pool), or a mysql2 promise connection (or pool). Null for anything else.
 */
export function detectDialect(db: unknown): Dialect | null {
  if (typeof db !== 'object' || db === null) return null;
  if (fn(db, 'prepare') && fn(db, 'exec') && fn(db, 'pragma')) return 'sqlite';
  // mysql2's promise API has execute() beside query(); node-postgres has neither execute nor pragma.
  if (fn(db, 'query') && fn(db, 'execute')) return 'mysql';
  if (fn(db, 'query') && (fn(db, 'escapeIdentifier') || ('totalCount' in db && fn(db, 'connect')))) return 'postgres';
  return null;
}
