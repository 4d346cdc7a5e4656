import type { Database } from 'better-sqlite3';
import { EsError } from '../../core/errors.js';
import type { JsonObject, NewStreamEvent } from '../../core/events.js';
import type { ImportResult } from '../../ports/event-store.js';
import type { prepareAppend } from './append.js';

/** JSON with object keys sorted, so two encodings of the same value compare equal. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as JsonObject).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

interface StoredById {
  stream_id: string;
  type: string;
  data: string;
  metadata: string;
}

/**
 * Appends events of many streams in one transaction. An event whose id is stored already is skipped
 * when it is the same event and refused (nothing of the batch is kept) when it differs.
 */
export function prepareImport(db: Database, append: ReturnType<typeof prepareAppend>) {
  const byId = db.prepare<[string], StoredById>('SELECT stream_id, type, data, metadata FROM events WHERE id = ?');

  const run = db.transaction((events: readonly NewStreamEvent[]): ImportResult => {
    const versions = new Map<string, number>();
    let appended = 0;
    let skipped = 0;
    let lastPosition: number | null = null;
    events.forEach((event, index) => {
      if (event.id !== undefined) {
        const stored = byId.get(event.id);
        if (stored) {
          const same =
            stored.stream_id === event.streamId &&
            stored.type === event.type &&
            canonical(JSON.parse(stored.data)) === canonical(event.data ?? {}) &&
            canonical(JSON.parse(stored.metadata)) === canonical(event.metadata ?? {});
          if (!same) {
            throw new EsError('USAGE', `event id "${event.id}" is stored already with different content`, {
              details: { index },
            });
          }
          skipped += 1;
          return;
        }
      }
      const current = versions.get(event.streamId) ?? append.version(event.streamId);
      const result = append.insert(event.streamId, current, [event]);
      versions.set(event.streamId, result.version);
      lastPosition = result.position;
      appended += 1;
    });
    return { appended, skipped, lastPosition };
  });

  return (events: readonly NewStreamEvent[]): ImportResult => run.immediate(events);
}
