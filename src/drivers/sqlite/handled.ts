import type { Database } from 'better-sqlite3';
import { MARKS, PRUNE_CHUNK, TABLE, checkEntries, type HandledEntry, type PruneQuery } from '../handled/types.js';
import type { HandledIds, HandledMarks } from '../../ports/handled.js';

/**
 * The handled-id table on SQLite (better-sqlite3, synchronous: every call runs inside the caller's
 * transaction when there is one). `handled_at` is ISO-8601 UTC text, which sorts as time.
 */
export function ensureHandledSqlite(db: Database): void {
  db.exec(
    `CREATE TABLE IF NOT EXISTS ${TABLE} (
       projection TEXT NOT NULL,
       event_id TEXT NOT NULL,
       position INTEGER NOT NULL,
       handled_at TEXT NOT NULL,
       PRIMARY KEY (projection, event_id)
     );
     CREATE INDEX IF NOT EXISTS ${TABLE}_prune ON ${TABLE} (projection, handled_at, position);`,
  );
}

/** Which of `ids` are recorded for the projection: one query for the whole batch. */
export function handledAmongSqlite(db: Database, projection: string, ids: readonly string[]): Set<string> {
  if (ids.length === 0) return new Set();
  const rows = db
    .prepare(`SELECT event_id FROM ${TABLE} WHERE projection = ? AND event_id IN (SELECT value FROM json_each(?))`)
    .pluck()
    .all(projection, JSON.stringify(ids)) as string[];
  return new Set(rows);
}

/** Records ids (a duplicate is a no-op); returns how many were new. */
export function recordHandledSqlite(db: Database, projection: string, entries: readonly HandledEntry[], at = new Date()): number {
  if (entries.length === 0) return 0;
  checkEntries(entries);
  const insert = db.prepare(`INSERT OR IGNORE INTO ${TABLE} (projection, event_id, position, handled_at) VALUES (?, ?, ?, ?)`);
  const when = at.toISOString();
  let added = 0;
  for (const { id, position } of entries) added += insert.run(projection, id, position, when).changes;
  return added;
}

/** Removes the projection's ids, all of them or those at or after `fromPosition` (a replay). */
export function clearHandledSqlite(db: Database, projection: string, fromPosition?: number): number {
  if (fromPosition === undefined) return db.prepare(`DELETE FROM ${TABLE} WHERE projection = ?`).run(projection).changes;
  return db.prepare(`DELETE FROM ${TABLE} WHERE projection = ? AND position >= ?`).run(projection, fromPosition).changes;
}

/** Deletes old ids a chunk at a time, each chunk its own transaction; returns how many went. */
export function pruneHandledSqlite(db: Database, query: PruneQuery): number {
  const chunk = query.chunk ?? PRUNE_CHUNK;
  const remove = db.prepare(
    `DELETE FROM ${TABLE} WHERE rowid IN (
       SELECT rowid FROM ${TABLE} WHERE projection = ? AND handled_at < ? AND position <= ? LIMIT ?)`,
  );
  let removed = 0;
  for (;;) {
    const { changes } = remove.run(query.projection, query.before.toISOString(), query.atOrBelow, chunk);
    removed += changes;
    if (changes < chunk) return removed;
  }
}

/** `es_handled_marks` (see HandledMarks in ports/handled.ts). */
export function sqliteMarks(db: Database): HandledMarks {
  const exists = (table: string): boolean => db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !== undefined;
  return {
    handledExists: () => exists(TABLE),
    markOf: (projection) => {
      if (!exists(MARKS)) return null;
      const row = db.prepare(`SELECT position FROM ${MARKS} WHERE projection = ?`).get(projection) as { position: number } | undefined;
      return row?.position ?? null;
    },
    ensure: () => void db.exec(`CREATE TABLE IF NOT EXISTS ${MARKS} (projection TEXT PRIMARY KEY, position INTEGER NOT NULL)`),
    mark: (projection, position) =>
      void db
        .prepare(`INSERT INTO ${MARKS} VALUES (?, ?) ON CONFLICT (projection) DO UPDATE SET position = MAX(position, excluded.position)`)
        .run(projection, position),
    clear: (projection, from) => {
      if (!exists(MARKS)) return;
      if (from === undefined) db.prepare(`DELETE FROM ${MARKS} WHERE projection = ?`).run(projection);
      else db.prepare(`UPDATE ${MARKS} SET position = MIN(position, ?) WHERE projection = ?`).run(from - 1, projection);
    },
  };
}

/** The handled-id table through one sqlite connection. */
export function sqliteHandledIds(db: Database): HandledIds {
  return {
    ensure: () => ensureHandledSqlite(db),
    among: (p, ids) => handledAmongSqlite(db, p, ids),
    record: (p, entries, at) => recordHandledSqlite(db, p, entries, at),
    clear: (p, from) => clearHandledSqlite(db, p, from),
    prune: (q) => pruneHandledSqlite(db, q),
  };
}
