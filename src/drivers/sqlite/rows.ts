import type { StoredEvent } from '../../core/events.js';
import { eventTooLarge } from '../../core/event-size.js';

export interface EventRow {
  position: number;
  id: string;
  stream_id: string;
  version: number;
  type: string;
  data: string;
  metadata: string;
  recorded_at: string;
}

export const EVENT_COLUMNS = 'position, id, stream_id, version, type, data, metadata, recorded_at';

export function toEvent(row: EventRow): StoredEvent {
  return eventOf(row.position, row.id, row.stream_id, row.version, row.type, row.data, row.metadata, row.recorded_at);
}

/** A row read as an array (`raw()`), in the order of EVENT_COLUMNS. */
export type EventValues = [number, string, string, number, string, string, string, string];

export function toEventFromValues(v: EventValues | SizedValues): StoredEvent {
  return eventOf(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
}

function eventOf(
  position: number,
  id: string,
  streamId: string,
  version: number,
  type: string,
  data: string,
  metadata: string,
  recordedAt: string,
): StoredEvent {
  return {
    position,
    id,
    streamId,
    version,
    type,
    data: JSON.parse(data) as StoredEvent['data'],
    metadata: metadata === '{}' ? {} : (JSON.parse(metadata) as StoredEvent['metadata']),
    recordedAt,
  };
}

/**
 * EVENT_COLUMNS (each with `table` before it) for reads bounded by bytes, then the size of data and
 * metadata: octet_length reads a column's length from the record header, without its content.
 * Data and metadata larger than `largest` come back NULL, so no string is made that cannot fit.
 */
export function sizedColumns(largest: number, table = ''): string {
  const size = `(octet_length(${table}data) + octet_length(${table}metadata))`;
  const unlessTooLarge = (column: string) => `iif(${size} > ${largest}, NULL, ${table}${column})`;
  const plain = (column: string) => `${table}${column}`;
  return [
    plain('position'),
    plain('id'),
    plain('stream_id'),
    plain('version'),
    plain('type'),
    unlessTooLarge('data'),
    unlessTooLarge('metadata'),
    plain('recorded_at'),
    size,
  ].join(', ');
}

/** A row of sizedColumns: EventValues, then the bytes of data and metadata. */
export type SizedValues = [...EventValues, number];

/**
 * The rows, in order, until their data and metadata reach `maxBytes` (the first row always), and
 * whether the bound stopped them. Rows are pulled one at a time, so the rest is never read.
 */
export function takeBounded(rows: Iterable<SizedValues>, maxBytes: number, largest: number): { rows: SizedValues[]; cut: boolean } {
  const taken: SizedValues[] = [];
  let bytes = 0;
  for (const row of rows) {
    if (row[8] > largest) throw eventTooLarge(row[0], row[8], largest);
    taken.push(row);
    bytes += row[8];
    if (bytes >= maxBytes) return { rows: taken, cut: true };
  }
  return { rows: taken, cut: false };
}
