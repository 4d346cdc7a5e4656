import type { ClientBase, Pool } from 'pg';
import { EsError } from '../../core/errors.js';
import type { StoredEvent } from '../../core/events.js';
import type { Pending, ReadOptions } from '../../ports/event-store.js';
import { checkMaxBytes, DEFAULT_BATCH_BYTES, largestEvent } from '../../core/event-size.js';
import { boundedRows, checkLoadable } from './bounded.js';
import { PG_EVENT_COLUMNS, pgEventColumnsUnless, toEvent, toEventFromValues, toNumber, type PgEventRow } from './rows.js';
import { checkCursorBelow } from './read-batch.js';

type Queryable = Pool | ClientBase;

/** `es read`: all events, or one stream's, in position order (committed ones only). */
export async function readEvents(db: Queryable, schema: string, options: ReadOptions): Promise<StoredEvent[]> {
  const from = options.from ?? 0;
  const limit = options.limit ?? null;
  const { rows } =
    options.streamId !== undefined
      ? await db.query<PgEventRow>(
          `SELECT ${PG_EVENT_COLUMNS} FROM "${schema}".events e WHERE e.stream_id = $1 AND e.position >= $2
           ORDER BY e.version LIMIT $3`,
          [options.streamId, from, limit],
        )
      : await db.query<PgEventRow>(
          `SELECT ${PG_EVENT_COLUMNS} FROM "${schema}".events e WHERE e.position >= $1 ${options.includeSystem ? '' : 'AND NOT e.system'}
           ORDER BY e.position LIMIT $2`,
          [from, limit],
        );
  return rows.map(toEvent);
}

export async function lastEvent(db: Queryable, schema: string, streamId: string): Promise<StoredEvent | undefined> {
  const { rows } = await db.query<PgEventRow>(`SELECT ${PG_EVENT_COLUMNS} FROM "${schema}".events e WHERE e.stream_id = $1 ORDER BY e.version DESC LIMIT 1`, [
    streamId,
  ]);
  return rows[0] ? toEvent(rows[0]) : undefined;
}

/** The last committed position outside system streams. */
export async function head(db: Queryable, schema: string): Promise<number> {
  const { rows } = await db.query<{ position: string }>(`SELECT e.position FROM "${schema}".events e WHERE NOT e.system ORDER BY e.position DESC LIMIT 1`);
  return toNumber(rows[0]?.position);
}

/**
 * What a projection at cursor (transaction, position) still has to process: committed events after
 * it in commit order, including those held back behind a transaction still in flight.
 */
export async function pending(
  db: Queryable,
  schema: string,
  cursor: { transactionId: string; position: number },
  types: readonly string[] | null,
  upTo?: number,
): Promise<Pending> {
  const { rows } = await db.query<{ n: string; oldest: Date | null; next: string }>(
    `SELECT count(*) AS n, min(e.recorded_at) AS oldest, "${schema}".es_xact_next()::text AS next FROM "${schema}".events e
     WHERE NOT e.system AND (e.transaction_id, e.position) > ($1::xid8, $2::bigint)
       AND ($3::text[] IS NULL OR e.type = ANY($3::text[])) AND ($4::bigint IS NULL OR e.position <= $4::bigint)`,
    [cursor.transactionId, cursor.position, types, upTo ?? null],
  );
  const row = rows[0];
  if (row) checkCursorBelow(cursor, row.next);
  return { count: toNumber(row?.n), oldestRecordedAt: row?.oldest ? row.oldest.toISOString() : null };
}

/**
 * The cursor before every event at or after `position`: the oldest transaction that wrote one of
 * them, or that is still in flight and may yet commit one. Events of later transactions below
 * `position` come along (PostgreSQL may re-handle a few events before P on replay-from), but none
 * at or after it is left out.
 */
export async function cursorBefore(db: Queryable, schema: string, position: number): Promise<{ transactionId: string; position: number }> {
  if (position <= 1) return { transactionId: '0', position: 0 };
  const { rows } = await db.query<{ tx: string }>(
    `SELECT least(
       (SELECT min(e.transaction_id::text::numeric) FROM "${schema}".events e WHERE NOT e.system AND e.position >= $1),
       "${schema}".es_xact_horizon()::text::numeric)::text AS tx`,
    [position],
  );
  // Strictly after (tx, position - 1): that transaction's events from \`position\` on, and all later ones.
  return { transactionId: rows[0]?.tx ?? '0', position: position - 1 };
}

/**
 * `readEvents` a page at a time, each page read when asked for: by position, or by version in a
 * stream. A page also stops at `maxBytes` of data and metadata (see boundedRows).
 */
export async function* readEventPages(
  db: Queryable,
  schema: string,
  options: ReadOptions,
  pageSize: number,
  maxBytes = DEFAULT_BATCH_BYTES,
): AsyncGenerator<StoredEvent[]> {
  if (!(pageSize >= 1)) throw new EsError('USAGE', `page size must be at least 1 (got ${pageSize})`);
  checkMaxBytes(maxBytes);
  const largest = largestEvent();
  let left = options.limit ?? Number.POSITIVE_INFINITY;
  let from = options.from ?? 0;
  let afterVersion = 0;
  while (left > 0) {
    const wanted = Math.min(pageSize, left);
    const { rows } = await db.query<unknown[]>({ rowMode: 'array', ...pageQuery(schema, options, { from, afterVersion, wanted, maxBytes, largest }) });
    checkLoadable(rows, 8, 0, largest);
    const page = rows.map((row) => toEventFromValues(row, 0));
    const last = page[page.length - 1];
    if (!last) return;
    from = options.streamId !== undefined ? from : last.position + 1;
    afterVersion = last.version;
    left -= page.length;
    yield page;
    if (rows[rows.length - 1]?.[9] !== true && page.length < wanted) return;
  }
}

/** One page's statement: the event's columns, then its bytes and whether the byte bound may have cut the page there. */
function pageQuery(
  schema: string,
  options: ReadOptions,
  at: { from: number; afterVersion: number; wanted: number; maxBytes: number; largest: number },
): { text: string; values: unknown[] } {
  const select = (rows: string, order: string, n: number) =>
    `SELECT ${pgEventColumnsUnless(`e.bytes > $${n + 1}`)}, e.bytes, e.cut FROM (${boundedRows(rows, order, `$${n}`)}) e ORDER BY ${order}`;
  if (options.streamId !== undefined) {
    return {
      text: select(
        `SELECT e.* FROM "${schema}".events e WHERE e.stream_id = $1 AND e.position >= $2 AND e.version > $3 ORDER BY e.version LIMIT $4`,
        'e.version',
        5,
      ),
      values: [options.streamId, at.from, at.afterVersion, at.wanted, at.maxBytes, at.largest],
    };
  }
  return {
    text: select(
      `SELECT e.* FROM "${schema}".events e WHERE e.position >= $1 ${options.includeSystem ? '' : 'AND NOT e.system'} ORDER BY e.position LIMIT $2`,
      'e.position',
      3,
    ),
    values: [at.from, at.wanted, at.maxBytes, at.largest],
  };
}
