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
  /** ISO 8601 in UTC with milliseconds, as `Date#toISOString` writes it (formatted by the server). */
  recorded_at: string;
}

/**
 * json is returned as text (cast), so data keeps the writer's key order and no parser runs twice.
 * The time is formatted by the server (truncated to milliseconds, as a Date would be): parsing a
 * timestamptz into a Date and back costs the client more than a rebuild's whole read-model write.
 */
export const PG_EVENT_COLUMNS =
  'e.position, e.id, e.stream_id, e.version, e.type, e.data::text AS data, e.metadata::text AS metadata, ' +
  `to_char(e.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS recorded_at`;

/** bigint arrives as a string; positions stay exact as long as they fit a double's 53 bits. */
export function toNumber(value: string | number | null | undefined): number {
  if (value === null || value === undefined) return 0;
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`position ${value} is beyond 2^53: too large for es`);
  return n;
}

export function toEvent(row: PgEventRow): StoredEvent {
  return {
    position: toNumber(row.position),
    id: row.id,
    streamId: row.stream_id,
    version: row.version,
    type: row.type,
    data: JSON.parse(row.data) as StoredEvent['data'],
    metadata: row.metadata === '{}' ? {} : (JSON.parse(row.metadata) as StoredEvent['metadata']),
    recordedAt: row.recorded_at,
  };
}
