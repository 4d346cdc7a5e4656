import Database from 'better-sqlite3';

/**
 * Writes an event store of schema version 1 (no ordinals), as the first releases did, straight with
 * SQL: `rows` events, one second apart from 2026-01-01, every `systemEvery`-th of them in a system
 * stream, the others spread over five types (A–E) and 50 streams. Fast enough for millions of rows.
 */
export function writeOldStore(path: string, rows: number, systemEvery = 100): void {
  const db = new Database(path);
  db.exec(`
    CREATE TABLE events (
      position INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, stream_id TEXT NOT NULL,
      version INTEGER NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL,
      recorded_at TEXT NOT NULL, system INTEGER NOT NULL, UNIQUE (stream_id, version));
    CREATE INDEX events_type_position ON events (type, position) WHERE system = 0;
    CREATE TABLE es_locks (name TEXT PRIMARY KEY, owner_id TEXT NOT NULL, pid INTEGER NOT NULL,
      host TEXT NOT NULL, since TEXT NOT NULL, expires_at INTEGER NOT NULL);
    PRAGMA application_id = ${0x6573};
    PRAGMA user_version = 1;`);
  // Every systemEvery-th row is a checkpoint-like system event: positions that are not user events.
  db.prepare(
    `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < @rows)
     INSERT INTO events (id, stream_id, version, type, data, metadata, recorded_at, system)
     SELECT printf('e-%09d', i),
            CASE WHEN sys THEN '$checkpoint-old' ELSE 's-' || (i % 50) END,
            CASE WHEN sys THEN i / e + 1 ELSE i / 50 + 1 END,
            CASE WHEN sys THEN 'Checkpoint' ELSE char(65 + (i * 7 / 3) % 5) END,
            '{"i":' || i || '}', '{}', strftime('%Y-%m-%dT%H:%M:%fZ', 1767225600 + i, 'unixepoch'), sys
     FROM (SELECT i, i % e = e - 1 AS sys, e FROM n, (SELECT CAST(@every AS INTEGER) AS e))`,
  ).run({ rows, every: systemEvery });
  db.close();
}

/**
 * Renames the store's one user event in place, with SQL: for names es refuses now (control
 * characters) that a store written by an older es, or by hand, may still hold. The event must be
 * the only one of its type, so its per-type ordinal stays right under the new type.
 */
export function renameInPlace(path: string, to: { streamId?: string; type?: string }): void {
  const db = new Database(path);
  try {
    const result = db
      .prepare('UPDATE events SET stream_id = coalesce(?, stream_id), type = coalesce(?, type) WHERE system = 0')
      .run(to.streamId ?? null, to.type ?? null);
    if (result.changes !== 1) throw new Error(`renameInPlace: expected one user event, found ${result.changes}`);
  } finally {
    db.close();
  }
}
