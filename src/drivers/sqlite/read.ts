import type { Database } from 'better-sqlite3';
import { EsError } from '../../core/errors.js';
import type { StoredEvent } from '../../core/events.js';
import type { ReadOptions } from '../../ports/event-store.js';
import { checkMaxBytes, DEFAULT_BATCH_BYTES, largestEvent } from '../../core/event-size.js';
import { EVENT_COLUMNS, sizedColumns, takeBounded, toEvent, toEventFromValues, type EventRow, type SizedValues } from './rows.js';

/**
 * `es read`: all events, or one stream's, in position order; whole or page by page. A page carries on
 * after the previous page's last event: by position, or by version within a stream, whose index is
 * (stream_id, version) and whose versions grow with positions. A page also stops at `maxBytes` of
 * data and metadata, so pages of large events stay small.
 */
export function prepareRead(db: Database) {
  const largest = largestEvent();
  const columns = sizedColumns(largest);
  const all = db.prepare<[number, number], SizedValues>(`SELECT ${columns} FROM events NOT INDEXED WHERE position >= ? ORDER BY position LIMIT ?`).raw();
  const user = db
    .prepare<[number, number], SizedValues>(`SELECT ${columns} FROM events NOT INDEXED WHERE position >= ? AND system = 0 ORDER BY position LIMIT ?`)
    .raw();
  const stream = db
    .prepare<[string, number, number], SizedValues>(`SELECT ${columns} FROM events WHERE stream_id = ? AND position >= ? ORDER BY version LIMIT ?`)
    .raw();
  const streamAfter = db
    .prepare<[string, number, number], SizedValues>(`SELECT ${columns} FROM events WHERE stream_id = ? AND version > ? ORDER BY version LIMIT ?`)
    .raw();

  /** Rows from `from` on, or, within a stream, after `afterVersion` once a page has been read; pulled one at a time. */
  function rows(options: ReadOptions, from: number, afterVersion: number | null, limit: number): Iterable<SizedValues> {
    if (options.streamId === undefined) return (options.includeSystem ? all : user).iterate(from, limit);
    if (afterVersion !== null) return streamAfter.iterate(options.streamId, afterVersion, limit);
    return stream.iterate(options.streamId, from, limit);
  }

  return {
    read(options: ReadOptions): StoredEvent[] {
      return takeBounded(rows(options, options.from ?? 0, null, options.limit ?? -1), Number.POSITIVE_INFINITY, largest).rows.map(toEventFromValues);
    },
    async *pages(options: ReadOptions, pageSize: number, maxBytes = DEFAULT_BATCH_BYTES): AsyncGenerator<StoredEvent[]> {
      if (!(pageSize >= 1)) throw new EsError('USAGE', `page size must be at least 1 (got ${pageSize})`);
      checkMaxBytes(maxBytes);
      let left = options.limit ?? Number.POSITIVE_INFINITY;
      let from = options.from ?? 0;
      let afterVersion: number | null = null;
      while (left > 0) {
        const wanted = Math.min(pageSize, left);
        const { rows: page, cut } = takeBounded(rows(options, from, afterVersion, wanted), maxBytes, largest);
        const last = page[page.length - 1];
        if (!last) return;
        from = last[0] + 1;
        afterVersion = last[3];
        left -= page.length;
        yield page.map(toEventFromValues);
        if (!cut && page.length < wanted) return;
      }
    },
  };
}

/** The last event of a stream: what a projection's checkpoint stream says now. */
export function prepareLastEvent(db: Database) {
  const last = db.prepare<[string], EventRow>(`SELECT ${EVENT_COLUMNS} FROM events WHERE stream_id = ? ORDER BY version DESC LIMIT 1`);
  return (streamId: string): StoredEvent | undefined => {
    const row = last.get(streamId);
    return row ? toEvent(row) : undefined;
  };
}

/** The head: the last position outside system streams. Walks the rowid backwards, never an index. */
export function prepareHead(db: Database) {
  const head = db.prepare<[], { position: number }>('SELECT position FROM events NOT INDEXED WHERE system = 0 ORDER BY position DESC LIMIT 1');
  return (): number => head.get()?.position ?? 0;
}
