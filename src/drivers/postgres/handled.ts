import { MARKS, PRUNE_CHUNK, TABLE, checkEntries, type HandledEntry, type PruneQuery } from '../handled/types.js';
import type { HandledIds, HandledMarks } from '../../ports/handled.js';

/** The part of a node-postgres client (or pool) these functions use. */
export interface PgQueryable {
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[]; rowCount: number | null }>;
}

/**
 * The handled-id table on PostgreSQL, in the client's search_path. Two sessions creating it at
 * once can collide on the catalog even with IF NOT EXISTS, and inside a transaction that error
 * would abort it: so a table already there is left alone, and creators take turns on an advisory
 * lock (held to the end of the caller's transaction). Outside a transaction the lock ends with its
 * statement; the loser's unique violation then only means the other one made it.
 */
export async function ensureHandledPostgres(client: PgQueryable): Promise<void> {
  const { rows } = await client.query(`SELECT to_regclass('${TABLE}') IS NOT NULL AS present`);
  if (rows[0]?.present === true) return;
  await client.query(`SELECT pg_advisory_xact_lock(hashtext('es.${TABLE}'))`);
  try {
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${TABLE} (
         projection text NOT NULL,
         event_id text NOT NULL,
         position bigint NOT NULL,
         handled_at timestamptz NOT NULL,
         PRIMARY KEY (projection, event_id)
       )`,
    );
    await client.query(`CREATE INDEX IF NOT EXISTS ${TABLE}_prune ON ${TABLE} (projection, handled_at, position)`);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code !== '23505' && code !== '42P07') throw error;
  }
}

export async function handledAmongPostgres(client: PgQueryable, projection: string, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const { rows } = await client.query(`SELECT event_id FROM ${TABLE} WHERE projection = $1 AND event_id = ANY($2::text[])`, [projection, ids]);
  return new Set(rows.map((r) => String(r.event_id)));
}

/**
 * ON CONFLICT DO NOTHING, counted by the row count: a unique violation caught in JavaScript would
 * already have aborted the caller's whole transaction.
 */
export async function recordHandledPostgres(client: PgQueryable, projection: string, entries: readonly HandledEntry[], at = new Date()): Promise<number> {
  if (entries.length === 0) return 0;
  checkEntries(entries);
  const result = await client.query(
    `INSERT INTO ${TABLE} (projection, event_id, position, handled_at)
     SELECT $1, e.id, e.position, $4 FROM unnest($2::text[], $3::bigint[]) AS e(id, position)
     ON CONFLICT DO NOTHING`,
    [projection, entries.map((e) => e.id), entries.map((e) => e.position), at],
  );
  return result.rowCount ?? 0;
}

export async function clearHandledPostgres(client: PgQueryable, projection: string, fromPosition?: number): Promise<number> {
  const result =
    fromPosition === undefined
      ? await client.query(`DELETE FROM ${TABLE} WHERE projection = $1`, [projection])
      : await client.query(`DELETE FROM ${TABLE} WHERE projection = $1 AND position >= $2`, [projection, fromPosition]);
  return result.rowCount ?? 0;
}

/** Each chunk is its own statement, so call it on a client outside a transaction (autocommit). */
export async function pruneHandledPostgres(client: PgQueryable, query: PruneQuery): Promise<number> {
  const chunk = query.chunk ?? PRUNE_CHUNK;
  let removed = 0;
  for (;;) {
    const result = await client.query(
      `DELETE FROM ${TABLE} WHERE (projection, event_id) IN (
         SELECT projection, event_id FROM ${TABLE}
         WHERE projection = $1 AND handled_at < $2 AND position <= $3 LIMIT $4)`,
      [query.projection, query.before, query.atOrBelow, chunk],
    );
    const changes = result.rowCount ?? 0;
    removed += changes;
    if (changes < chunk) return removed;
  }
}

/** `es_handled_marks` (see HandledMarks in ports/handled.ts). */
export function postgresMarks(client: PgQueryable): HandledMarks {
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

/** The handled-id table through one postgres connection. */
export function postgresHandledIds(db: PgQueryable): HandledIds {
  return {
    ensure: () => ensureHandledPostgres(db),
    among: (p, ids) => handledAmongPostgres(db, p, ids),
    record: (p, entries, at) => recordHandledPostgres(db, p, entries, at),
    clear: (p, from) => clearHandledPostgres(db, p, from),
    prune: (q) => pruneHandledPostgres(db, q),
  };
}
