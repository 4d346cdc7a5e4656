import type { Database } from 'better-sqlite3';
import type { StoredEvent } from '../../core/events.js';
import type { ReadOptions } from '../../ports/event-store.js';
import { EVENT_COLUMNS, toEvent, type EventRow } from './rows.js';

/** `es read`: all events, or one stream's, in position order. */
export function prepareRead(db: Database) {
  const all = db.prepare<[number, number], EventRow>(
    `SELECT ${EVENT_COLUMNS} FROM events NOT INDEXED WHERE position >= ? ORDER BY position LIMIT ?`,
  );
  const user = db.prepare<[number, number], EventRow>(
    `SELECT ${EVENT_COLUMNS} FROM events NOT INDEXED WHERE position >= ? AND system = 0 ORDER BY position LIMIT ?`,
  );
  const stream = db.prepare<[string, number, number], EventRow>(
    `SELECT ${EVENT_COLUMNS} FROM events WHERE stream_id = ? AND position >= ? ORDER BY version LIMIT ?`,
  );
  return (options: ReadOptions): StoredEvent[] => {
    const from = options.from ?? 0;
    const limit = options.limit ?? -1;
    const rows =
      options.streamId !== undefined
        ? stream.all(options.streamId, from, limit)
        : options.includeSystem
          ? all.all(from, limit)
          : user.all(from, limit);
    return rows.map(toEvent);
  };
}

/** The last event of a stream: what a projection's checkpoint stream says now. */
export function prepareLastEvent(db: Database) {
  const last = db.prepare<[string], EventRow>(
    `SELECT ${EVENT_COLUMNS} FROM events WHERE stream_id = ? ORDER BY version DESC LIMIT 1`,
  );
  return (streamId: string): StoredEvent | undefined => {
    const row = last.get(streamId);
    return row ? toEvent(row) : undefined;
  };
}

/** The head: the last position outside system streams. Walks the rowid backwards, never an index. */
export function prepareHead(db: Database) {
  const head = db.prepare<[], { position: number }>(
    'SELECT position FROM events NOT INDEXED WHERE system = 0 ORDER BY position DESC LIMIT 1',
  );
  return (): number => head.get()?.position ?? 0;
}
