import type { StoredEvent } from '../../core/events.js';

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

export function toEventFromValues(v: EventValues): StoredEvent {
  return eventOf(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
}

function eventOf(position: number, id: string, streamId: string, version: number, type: string, data: string, metadata: string, recordedAt: string): StoredEvent {
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
