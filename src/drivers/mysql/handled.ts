import { MARKS, PRUNE_CHUNK, TABLE, checkEntries, type HandledEntry, type PruneQuery } from '../handled/types.js';
import type { HandledIds, HandledMarks } from '../../ports/handled.js';

/** The part of a mysql2 promise connection (or pool) these functions use. */
export interface MysqlQueryable {
  query(sql: string, values?: unknown): Promise<[unknown, unknown]>;
}

/**
 * Ids are bytes (VARBINARY): MariaDB's text collations compare case-insensitively and ignore
 * trailing spaces, which would make two different ids one. The key fits InnoDB's 3072-byte limit.
 */
export const MAX_ID_BYTES = 1024;

export async function ensureHandledMysql(conn: MysqlQueryable): Promise<void> {
  await conn.query(
    `CREATE TABLE IF NOT EXISTS ${TABLE} (
       projection VARBINARY(255) NOT NULL,
       event_id VARBINARY(${MAX_ID_BYTES}) NOT NULL,
       position BIGINT NOT NULL,
       handled_at DATETIME(3) NOT NULL,
       PRIMARY KEY (projection, event_id),
       KEY ${TABLE}_prune (projection, handled_at, position)
     ) ENGINE=InnoDB`,
  );
}

/** DATETIME holds no zone: es writes and compares UTC, whatever the session's time zone. */
function utc(at: Date): string {
  return at.toISOString().replace('T', ' ').replace('Z', '');
}

function checkIds(ids: readonly string[]): void {
  for (const id of ids) {
    // INSERT IGNORE would truncate a longer one with a warning: two ids with a common prefix would collide.
    if (Buffer.byteLength(id) > MAX_ID_BYTES) throw new RangeError(`event id longer than ${MAX_ID_BYTES} bytes: ${id.slice(0, 40)}…`);
  }
}

const text = (value: unknown): string => (Buffer.isBuffer(value) ? value.toString('utf8') : String(value));

export async function handledAmongMysql(conn: MysqlQueryable, projection: string, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  checkIds(ids);
  const [rows] = await conn.query(`SELECT event_id FROM ${TABLE} WHERE projection = ? AND event_id IN (?)`, [projection, ids]);
  return new Set((rows as { event_id: unknown }[]).map((r) => text(r.event_id)));
}

/**
 * INSERT IGNORE counts only new rows in affectedRows (ON DUPLICATE KEY UPDATE would report a
 * duplicate as a change).
 */
export async function recordHandledMysql(conn: MysqlQueryable, projection: string, entries: readonly HandledEntry[], at = new Date()): Promise<number> {
  if (entries.length === 0) return 0;
  checkEntries(entries);
  checkIds(entries.map((e) => e.id));
  const when = utc(at);
  const [result] = await conn.query(`INSERT IGNORE INTO ${TABLE} (projection, event_id, position, handled_at) VALUES ?`, [
    entries.map((e) => [projection, e.id, e.position, when]),
  ]);
  return (result as { affectedRows: number }).affectedRows;
}

export async function clearHandledMysql(conn: MysqlQueryable, projection: string, fromPosition?: number): Promise<number> {
  const [result] =
    fromPosition === undefined
      ? await conn.query(`DELETE FROM ${TABLE} WHERE projection = ?`, [projection])
      : await conn.query(`DELETE FROM ${TABLE} WHERE projection = ? AND position >= ?`, [projection, fromPosition]);
  return (result as { affectedRows: number }).affectedRows;
}

/** Each chunk is its own statement: call it on a connection outside a transaction (autocommit). */
export async function pruneHandledMysql(conn: MysqlQueryable, query: PruneQuery): Promise<number> {
  const chunk = query.chunk ?? PRUNE_CHUNK;
  let removed = 0;
  for (;;) {
    const [result] = await conn.query(`DELETE FROM ${TABLE} WHERE projection = ? AND handled_at < ? AND position <= ? ORDER BY handled_at LIMIT ?`, [
      query.projection,
      utc(query.before),
      query.atOrBelow,
      chunk,
    ]);
    const changes = (result as { affectedRows: number }).affectedRows;
    removed += changes;
    if (changes < chunk) return removed;
  }
}

/** `es_handled_marks` (see HandledMarks in ports/handled.ts). */
export function mysqlMarks(conn: MysqlQueryable): HandledMarks {
  const exists = async (table: string): Promise<boolean> => {
    const [rows] = await conn.query('SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?', [table]);
    return (rows as unknown[]).length > 0;
  };
  return {
    handledExists: () => exists(TABLE),
    markOf: async (projection) => {
      if (!(await exists(MARKS))) return null;
      const [rows] = await conn.query(`SELECT position FROM ${MARKS} WHERE projection = ?`, [projection]);
      const row = (rows as { position: unknown }[])[0];
      return row ? Number(row.position) : null;
    },
    ensure: async () => {
      await conn.query(`CREATE TABLE IF NOT EXISTS ${MARKS} (projection VARBINARY(255) PRIMARY KEY, position BIGINT NOT NULL) ENGINE=InnoDB`);
    },
    mark: async (projection, position) => {
      await conn.query(`INSERT INTO ${MARKS} VALUES (?, ?) ON DUPLICATE KEY UPDATE position = GREATEST(position, VALUES(position))`, [projection, position]);
    },
    clear: async (projection, from) => {
      if (!(await exists(MARKS))) return;
      if (from === undefined) await conn.query(`DELETE FROM ${MARKS} WHERE projection = ?`, [projection]);
      else await conn.query(`UPDATE ${MARKS} SET position = LEAST(position, ?) WHERE projection = ?`, [from - 1, projection]);
    },
  };
}

/** The handled-id table through one mysql connection. */
export function mysqlHandledIds(db: MysqlQueryable): HandledIds {
  return {
    ensure: () => ensureHandledMysql(db),
    among: (p, ids) => handledAmongMysql(db, p, ids),
    record: (p, entries, at) => recordHandledMysql(db, p, entries, at),
    clear: (p, from) => clearHandledMysql(db, p, from),
    prune: (q) => pruneHandledMysql(db, q),
  };
}
