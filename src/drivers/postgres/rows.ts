import { environment } from '../../core/errors.js';
import type { StoredEvent } from '../../core/events.js';

export interface PgEventRow {
  position: string;
  transaction_id?: string;
  id: string;
  stream_id: string;
  version: number;
  type: string;
  data: string;
  metadata: string;
  /** A UTC timestamp's text (see PG_EVENT_COLUMNS). */
  recorded_at: string;
}

/**
 * json is returned as text (cast), so data keeps the writer's key order and no parser runs twice.
 * The time comes as the text of a UTC timestamp ("2026-11-30 04:31:29.049677" in DateStyle ISO, the
 * default, which node-postgres assumes too) and is rewritten in ISO 8601 by slicing: parsing a
 * timestamptz into a Date and back, or formatting it with to_char on the server, cost a rebuild more
 * than its read-model writes.
 */
export const PG_EVENT_COLUMNS =
  "e.position, e.id, e.stream_id, e.version, e.type, e.data::text AS data, e.metadata::text AS metadata, (e.recorded_at AT TIME ZONE 'UTC')::text AS recorded_at";

/** PG_EVENT_COLUMNS with data and metadata NULL where `tooLarge` (an SQL condition) holds: their text is never sent. */
export function pgEventColumnsUnless(tooLarge: string): string {
  const guarded = PG_EVENT_COLUMNS.replace('e.data::text AS data', `CASE WHEN ${tooLarge} THEN NULL ELSE e.data::text END AS data`).replace(
    'e.metadata::text AS metadata',
    `CASE WHEN ${tooLarge} THEN NULL ELSE e.metadata::text END AS metadata`,
  );
  if (guarded.split('CASE WHEN').length !== 3) throw new Error('PG_EVENT_COLUMNS changed: pgEventColumnsUnless no longer guards data and metadata');
  return guarded;
}

const PG_TIMESTAMP = /^(\d{4,})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d+))?$/;

/**
 * A UTC timestamp's text as `Date#toISOString` writes it: milliseconds, truncated (as a Date built
 * from the timestamp would be), and `Z`.
 */
export function isoFromPg(text: string): string {
  if (text.length >= 19 && text.length <= 26 && text.charCodeAt(10) === 32 && text.charCodeAt(4) === 45 && (text.length === 19 || text.charCodeAt(19) === 46)) {
    return `${text.slice(0, 10)}T${text.slice(11, 19)}.${text.length === 19 ? '000' : `${text.slice(20, 23)}00`.slice(0, 3)}Z`;
  }
  // A year past 9999: what a Date would write (+010000-…).
  const m = PG_TIMESTAMP.exec(text);
  if (!m) throw environment(`unexpected timestamp text from PostgreSQL: "${text}" (es needs the server's DateStyle to be ISO, its default)`);
  const [, y, mo, d, h, mi, sec, frac = ''] = m;
  return new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec), Number(`${frac}00`.slice(0, 3)))).toISOString();
}

/** bigint arrives as a string; positions stay exact as long as they fit a double's 53 bits. */
export function toNumber(value: string | number | null | undefined): number {
  if (value === null || value === undefined) return 0;
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`position ${value} is beyond 2^53: too large for es`);
  return n;
}

export function toEvent(row: PgEventRow): StoredEvent {
  return eventOf(row.position, row.id, row.stream_id, row.version, row.type, row.data, row.metadata, row.recorded_at);
}

/**
 * An event from a row fetched as an array (`rowMode: 'array'`, no object per row), its columns
 * those of PG_EVENT_COLUMNS from index `at` on.
 */
export function toEventFromValues(v: readonly unknown[], at: number): StoredEvent {
  return eventOf(v[at], v[at + 1], v[at + 2], v[at + 3], v[at + 4], v[at + 5], v[at + 6], v[at + 7]);
}

function eventOf(
  position: unknown,
  id: unknown,
  streamId: unknown,
  version: unknown,
  type: unknown,
  data: unknown,
  metadata: unknown,
  recordedAt: unknown,
): StoredEvent {
  return {
    position: toNumber(position as string),
    id: id as string,
    streamId: streamId as string,
    version: version as number,
    type: type as string,
    data: JSON.parse(data as string) as StoredEvent['data'],
    metadata: metadata === '{}' ? {} : (JSON.parse(metadata as string) as StoredEvent['metadata']),
    recordedAt: isoFromPg(recordedAt as string),
  };
}
