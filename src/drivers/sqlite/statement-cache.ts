import type { Database, Statement } from 'better-sqlite3';

/**
 * The Database handed to projections, with `prepare` cached by SQL text: a handler written the obvious
 * way (`db.prepare(sql).run(…)` per event) then compiles each statement once, not once per event.
 * Everything else is the real better-sqlite3 Database (a Proxy, so `instanceof Database` still holds).
 */
export function withStatementCache(db: Database, limit = 500): Database {
  const cache = new Map<string, Statement>();
  const bound = new Map<PropertyKey, unknown>();
  const prepare = (sql: string): Statement => {
    const cached = cache.get(sql);
    // A statement still being iterated cannot run again; hand out a fresh one instead.
    if (cached && !cached.busy) {
      // pluck/expand/raw change the statement for everyone holding it: hand it out plain.
      if (cached.reader) cached.raw(false).pluck(false).expand(false);
      return cached;
    }
    const statement = db.prepare(sql);
    if (!cached) {
      if (cache.size >= limit) cache.delete(cache.keys().next().value as string);
      cache.set(sql, statement);
    }
    return statement;
  };
  return new Proxy(db, {
    get(target, property) {
      if (property === 'prepare') return prepare;
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== 'function') return value;
      let fn = bound.get(property);
      if (!fn) {
        fn = (value as (...args: unknown[]) => unknown).bind(target);
        bound.set(property, fn);
      }
      return fn;
    },
  });
}
