import { randomUUID } from 'node:crypto';
import type { Database } from 'better-sqlite3';
import { isSystemStream, type NewEvent } from '../../core/events.js';
import type { AppendResult } from '../../ports/event-store.js';
import { ORDINAL_VALUES } from './ordinals.js';

/** Appends within the caller's transaction; returns a function bound to prepared statements. */
export function prepareAppend(db: Database) {
  const currentVersion = db.prepare<[string], { v: number | null }>('SELECT max(version) AS v FROM events WHERE stream_id = ?');
  const insert = db.prepare(
    `INSERT INTO events (id, stream_id, version, type, data, metadata, recorded_at, system, seq, type_seq)
     VALUES (@id, @streamId, @version, @type, @data, @metadata, ${ORDINAL_VALUES})`,
  );

  return {
    version(streamId: string): number {
      return currentVersion.get(streamId)?.v ?? 0;
    },
    /** Inserts events at the given version onward; no expected-version check here. */
    insert(streamId: string, startVersion: number, events: readonly NewEvent[]): AppendResult {
      const recordedAt = new Date().toISOString();
      const system = isSystemStream(streamId) ? 1 : 0;
      let position = 0;
      let version = startVersion;
      for (const event of events) {
        version += 1;
        const info = insert.run({
          id: event.id ?? randomUUID(),
          streamId,
          version,
          type: event.type,
          data: JSON.stringify(event.data ?? {}),
          metadata: JSON.stringify(event.metadata ?? {}),
          now: recordedAt,
          system,
        });
        position = Number(info.lastInsertRowid);
      }
      return { position, version };
    },
  };
}
