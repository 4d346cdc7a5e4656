import type { Database } from 'better-sqlite3';
import { EsError } from '../../core/errors.js';
import { checkNames, sameEvent, type NewStreamEvent } from '../../core/events.js';
import type { ImportResult } from '../../ports/event-store.js';
import type { prepareAppend } from './append.js';

interface StoredById {
  stream_id: string;
  type: string;
  data: string;
  metadata: string;
}

/** Versions of the streams an import wrote to, kept for at most this many streams (memory stays flat). */
const KNOWN_VERSIONS = 10_000;

/** Where an import stands between chunks. */
export interface ImportState extends ImportResult {
  index: number;
  versions: Map<string, number>;
}

export function startImport(): ImportState {
  return { appended: 0, skipped: 0, lastPosition: null, index: 0, versions: new Map() };
}

/**
 * Appends one chunk of an import inside the caller's open transaction. An event whose id is stored
 * already (earlier in this import too) is skipped when it is the same event and refused when it
 * differs. Versions come from the table, which sees this transaction's own rows; the map only saves
 * the look-up for recently written streams.
 */
export function prepareImport(db: Database, append: ReturnType<typeof prepareAppend>) {
  const byId = db.prepare<[string], StoredById>('SELECT stream_id, type, data, metadata FROM events WHERE id = ?');

  return (state: ImportState, events: readonly NewStreamEvent[]): void => {
    for (const event of events) {
      const index = state.index++;
      try {
        checkNames(event.streamId, event.type, event.id);
      } catch (error) {
        throw new EsError('USAGE', (error as Error).message, { details: { index, event } });
      }
      if (event.id !== undefined) {
        const stored = byId.get(event.id);
        if (stored) {
          const same = sameEvent(
            { streamId: stored.stream_id, type: stored.type, data: JSON.parse(stored.data), metadata: JSON.parse(stored.metadata) },
            event,
          );
          if (!same) {
            throw new EsError('USAGE', `event id "${event.id}" is stored already with different content`, {
              details: { index, event },
            });
          }
          state.skipped += 1;
          continue;
        }
      }
      const current = state.versions.get(event.streamId) ?? append.version(event.streamId);
      const result = append.insert(event.streamId, current, [event]);
      if (state.versions.size >= KNOWN_VERSIONS) state.versions.clear();
      state.versions.set(event.streamId, result.version);
      state.lastPosition = result.position;
      state.appended += 1;
    }
  };
}
