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
  return {
    position: row.position,
    id: row.id,
    streamId: row.stream_id,
    version: row.version,
    type: row.type,
    data: JSON.parse(row.data) as StoredEvent['data'],
    metadata: row.metadata === '{}' ? {} : (JSON.parse(row.metadata) as StoredEvent['metadata']),
    recordedAt: row.recorded_at,
  };
}
