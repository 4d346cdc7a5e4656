import type { Database } from 'better-sqlite3';
import { chain } from '../../engine/maybe.js';
import { detectDialect } from './detect.js';
import type { MysqlQueryable } from '../mysql/handled.js';
import type { PgQueryable } from '../postgres/handled.js';
import { TABLE } from './types.js';

type Maybe<T> = T | Promise<T>;

/**
 * `es_handled_marks`: per projection, the highest position whose events a target transaction
 * applied and recorded in `es_handled`, written in that same transaction. It outlives a dropped
 * `es_handled`, so a target that holds a projection's effects past its checkpoint without the ids
 * that guard them is seen, instead of getting those events applied a second time.
 */
export const MARKS = `${TABLE}_marks`;

/** One dialect's statements; the engine's use only (consumers of `handledIds` never see the table). */
export interface HandledMarks {
  /** Whether `es_handled` exists. */
  handledExists(): Maybe<boolean>;
  /** The projection's mark, or null (no table or no row). */
  markOf(projection: string): Maybe<number | null>;
  ensure(): Maybe<void>;
  /** Raises the mark to `position` (never lowers it). */
  mark(projection: string, position: number): Maybe<void>;
  /** Forgets the mark (a rebuild), or lowers it below `fromPosition` (a replay-from). */
  clear(projection: string, fromPosition?: number): Maybe<void>;
}

export function handledMarks(db: unknown): HandledMarks {
  switch (detectDialect(db)) {
    case 'sqlite':
      return sqliteMarks(db as Database);
    case 'postgres':
      return postgresMarks(db as PgQueryable);
    case 'mysql':
      return mysqlMarks(db as MysqlQueryable);
    default:
      throw new TypeError(`${MARKS}: not a database es knows`);
  }
}

function sqliteMarks(db: Database): HandledMarks {
  const exists = (table: string): boolean =>
    db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !== undefined;
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

function postgresMarks(client: PgQueryable): HandledMarks {
  const exists = async (table: string): Promise<boolean> =>
    (await client.query(`SELECT to_regclass('${table}') IS NOT NULL AS present`)).rows[0]?.present === true;
  return {
    handledExists: () => exists(TABLE),
    markOf: async (projection) => {
      if (!(await exists(MARKS))) return null;
      const { rows } = await client.query(`SELECT position FROM ${MARKS} WHERE projection = $1`, [projection]);
      return rows[0] ? Number(rows[0].position) : null;
    },
    // Creators take turns as for es_handled (see ensureHandledPostgres).
    ensure: async () => {
      if (await exists(MARKS)) return;
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('es.${MARKS}'))`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${MARKS} (projection text PRIMARY KEY, position bigint NOT NULL)`).catch((error: { code?: unknown }) => {
        if (error.code !== '23505' && error.code !== '42P07') throw error;
      });
    },
    mark: async (projection, position) => {
      await client.query(
        `INSERT INTO ${MARKS} VALUES ($1, $2) ON CONFLICT (projection) DO UPDATE SET position = GREATEST(${MARKS}.position, EXCLUDED.position)`,
        [projection, position],
      );
    },
    clear: async (projection, from) => {
      if (!(await exists(MARKS))) return;
      if (from === undefined) await client.query(`DELETE FROM ${MARKS} WHERE projection = $1`, [projection]);
      else await client.query(`UPDATE ${MARKS} SET position = LEAST(position, $1) WHERE projection = $2`, [from - 1, projection]);
    },
  };
}

function mysqlMarks(conn: MysqlQueryable): HandledMarks {
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
      await conn.query(`INSERT INTO ${MARKS} VALUES (?, ?) ON DUPLICATE KEY UPDATE position = GREATEST(position, VALUES(position))`, [
        projection,
        position,
      ]);
    },
    clear: async (projection, from) => {
      if (!(await exists(MARKS))) return;
      if (from === undefined) await conn.query(`DELETE FROM ${MARKS} WHERE projection = ?`, [projection]);
      else await conn.query(`UPDATE ${MARKS} SET position = LEAST(position, ?) WHERE projection = ?`, [from - 1, projection]);
    },
  };
}

/**
 * The position up to which the target holds the projection's effects with no `es_handled` to
 * guard them, when that is past the checkpoint (the handled-id table was dropped): null when all
 * is well, including a first run on an empty target.
 */
export function unguardedPast(db: unknown, projection: string, checkpoint: number): Maybe<number | null> {
  const marks = handledMarks(db);
  return chain(marks.handledExists(), (present) =>
    present ? null : chain(marks.markOf(projection), (mark) => (mark !== null && mark > checkpoint ? mark : null)),
  );
}
