import type { ClientBase, Pool } from 'pg';
import { environment } from '../../core/errors.js';
import type { Batch, ResumeToken } from '../../ports/event-store.js';
import { DEFAULT_BATCH_BYTES, largestEvent } from '../../core/event-size.js';
import { boundedRows, checkLoadable } from './bounded.js';
import { pgEventColumnsUnless, toEventFromValues, toNumber } from './rows.js';

// The columns of readBatch's rows, in order: then the event's, from POSITION on.
const HORIZON = 0;
const NEXT = 1;
const HEAD = 2;
const TRANSACTION = 3;
const POSITION = 4;
// After the event's columns: its bytes of data and metadata, and whether the byte bound may have stopped the batch there.
const BYTES = POSITION + 8;
const CUT = POSITION + 9;

/**
 * A place in commit order: the writer's transaction id and the position within it. It is the
 * store's resume token (saved in a checkpoint's `data.cursor`), and only this driver looks inside.
 */
export interface PgCursor {
  transactionId: string;
  position: number;
}

export const tokenOf = (cursor: PgCursor): ResumeToken => cursor as unknown as ResumeToken;

/** A token as a checkpoint gave it back; anything else (none, or a foreign shape) is no token. */
export function cursorOfToken(token: ResumeToken | undefined): PgCursor | undefined {
  const c = token as Partial<PgCursor> | null | undefined;
  return c && typeof c.transactionId === 'string' && typeof c.position === 'number' ? { transactionId: c.transactionId, position: c.position } : undefined;
}

/**
 * A projection's next batch, in commit order. Only transactions older than the oldest one still in
 * flight (`es_xact_horizon()`, see cluster.ts) are read: a slower writer that drew a smaller position and has not
 * committed yet can then never be overtaken. One statement, one snapshot, one round trip. The batch
 * also stops at `maxBytes` of data and metadata (see boundedRows), and counts as full there.
 */
export async function readBatch(
  db: Pool | ClientBase,
  schema: string,
  query: {
    cursor: PgCursor;
    types: readonly string[] | null;
    limit: number;
    floor: number;
    maxBytes?: number;
    /** Nothing past this: a reader's cursor (its transaction and position), or without one its position alone. */
    cap?: { after: number; cursor: PgCursor | undefined };
  },
): Promise<Batch> {
  const largest = largestEvent();
  // Rows as arrays: a rebuild reads every event, and an object per row was a measurable part of it.
  const { rows } = await db.query<unknown[]>({
    rowMode: 'array',
    text: `SELECT snap.horizon::text AS horizon, "${schema}".es_xact_next()::text AS next,
            (SELECT h.position FROM "${schema}".events h WHERE NOT h.system AND h.transaction_id < snap.horizon
             ORDER BY h.position DESC LIMIT 1) AS head,
            e.transaction_id::text AS transaction_id, ${pgEventColumnsUnless('e.bytes > $6')}, e.bytes, e.cut
     FROM (SELECT "${schema}".es_xact_horizon() AS horizon) snap
     LEFT JOIN LATERAL (${boundedRows(
       `SELECT e.* FROM "${schema}".events e
       WHERE NOT e.system AND (e.transaction_id, e.position) > ($1::xid8, $2::bigint) AND e.transaction_id < snap.horizon
         AND ($3::text[] IS NULL OR e.type = ANY($3::text[]))
         AND ($7::xid8 IS NULL OR (e.transaction_id, e.position) <= ($7::xid8, $8::bigint))
         AND ($9::bigint IS NULL OR $7::xid8 IS NOT NULL OR e.position <= $9::bigint)
       ORDER BY e.transaction_id, e.position LIMIT $4`,
       'e.transaction_id, e.position',
       '$5',
     )}) e ON true`,
    values: [
      query.cursor.transactionId,
      query.cursor.position,
      query.types,
      query.limit,
      query.maxBytes ?? DEFAULT_BATCH_BYTES,
      largest,
      query.cap?.cursor?.transactionId ?? null,
      query.cap?.cursor?.position ?? null,
      query.cap?.after ?? null,
    ],
  });
  const first = rows[0];
  if (first) checkCursorBelow(query.cursor, first[NEXT] as string);
  // No event: one row of nulls from the left join.
  const found = first?.[POSITION] === null ? [] : rows;
  checkLoadable(found, BYTES, POSITION, largest);
  const events = found.map((row) => toEventFromValues(row, POSITION));
  const cursorAt = (index: number): PgCursor => {
    const row = found[index] as unknown[];
    return { transactionId: row[TRANSACTION] as string, position: toNumber(row[POSITION] as string) };
  };
  const resumeAfter = (index: number): ResumeToken => tokenOf(cursorAt(index));
  const last = events[events.length - 1];
  if (last && (events.length >= query.limit || found[found.length - 1]?.[CUT] === true)) {
    return {
      events,
      resume: resumeAfter(events.length - 1),
      resumeAfter,
      scannedTo: Math.max(query.floor, ...events.map((event) => event.position)),
    };
  }
  const horizon = (first?.[HORIZON] as string | undefined) ?? query.cursor.transactionId;
  let resume: PgCursor = { transactionId: horizon, position: 0 };
  // Capped: the read ends at the cap (when the horizon is past it), never past it.
  const capCursor = query.cap?.cursor;
  if (capCursor && compareCursor(resume, capCursor) > 0) resume = capCursor;
  // A cap by position alone filtered events out anywhere in commit order: move no further than what was read.
  if (query.cap && !capCursor) resume = last ? cursorAt(events.length - 1) : query.cursor;
  if (compareCursor(resume, query.cursor) < 0) resume = query.cursor;
  const head = toNumber((first?.[HEAD] as string | null | undefined) ?? null);
  return {
    events,
    resume: tokenOf(resume),
    resumeAfter,
    scannedTo: Math.max(query.floor, query.cap ? Math.min(head, query.cap.after) : head),
  };
}

/**
 * A cursor past the server's next transaction id was saved on another cluster (a restored dump, a
 * new server): every event here would sort below it and be skipped in silence. Refused instead.
 */
export function checkCursorBelow(cursor: PgCursor, next: string): void {
  if (BigInt(cursor.transactionId) > BigInt(next)) {
    throw environment(
      `a checkpoint's transaction id (${cursor.transactionId}) is ahead of this server's (${next}): the store was restored ` +
        'or moved to another PostgreSQL cluster; rebuild its projections (es project rebuild --all)',
    );
  }
}

export function compareCursor(a: PgCursor, b: PgCursor): number {
  const ta = BigInt(a.transactionId);
  const tb = BigInt(b.transactionId);
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.position - b.position;
}
