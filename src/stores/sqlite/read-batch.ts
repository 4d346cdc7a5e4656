import type { Database } from 'better-sqlite3';
import { EsError } from '../../core/errors.js';
import type { Batch, BatchQuery } from '../../ports/event-store.js';
import { EVENT_COLUMNS, toEventFromValues, type EventValues } from './rows.js';
import { prepareHead } from './read.js';

/**
 * A projection's next batch. SQLite answers `type IN (…) ORDER BY position LIMIT n` by sorting every
 * match, so for several types we take up to n positions per type from the covering (type, position)
 * index, merge them, and fetch just those rows. One type reads the index directly; all types walk
 * the rowid. All reads share one snapshot, so `scannedTo` (the head when the batch is not full)
 * cannot pass an event the batch did not see.
 */
export function prepareReadBatch(db: Database) {
  const head = prepareHead(db);
  // Rows as arrays (raw): no object per row, a measurable part of a rebuild.
  const allTypes = db
    .prepare<[number, number], EventValues>(
      `SELECT ${EVENT_COLUMNS} FROM events NOT INDEXED WHERE position > ? AND system = 0 ORDER BY position LIMIT ?`,
    )
    .raw();
  const oneType = db
    .prepare<[string, number, number], EventValues>(
      `SELECT ${EVENT_COLUMNS} FROM events INDEXED BY events_type_position
     WHERE system = 0 AND type = ? AND position > ? ORDER BY position LIMIT ?`,
    )
    .raw();
  const positionsOfType = db
    .prepare<[string, number, number], number>(
      `SELECT position FROM events INDEXED BY events_type_position
       WHERE system = 0 AND type = ? AND position > ? ORDER BY position LIMIT ?`,
    )
    .pluck();
  const byPositions = db
    .prepare<[string], EventValues>(
      `SELECT ${EVENT_COLUMNS.split(', ').map((c) => `events.${c}`).join(', ')}
     FROM json_each(?) AS wanted JOIN events ON events.position = wanted.value`,
    )
    .raw();

  function rows({ after, types, limit }: BatchQuery): EventValues[] {
    if (types === null) return allTypes.all(after, limit);
    if (types.length === 1) return oneType.all(types[0] as string, after, limit);
    const positions: number[] = [];
    for (const type of types) positions.push(...positionsOfType.all(type, after, limit));
    if (positions.length === 0) return [];
    positions.sort((a, b) => a - b);
    return byPositions.all(JSON.stringify(positions.slice(0, limit))).sort((a, b) => a[0] - b[0]);
  }

  const read = db.transaction((query: BatchQuery): Batch => {
    const found = rows(query);
    const last = found[found.length - 1];
    const scannedTo = found.length >= query.limit && last ? last[0] : Math.max(head(), query.after);
    return { events: found.map(toEventFromValues), scannedTo };
  });
  return (query: BatchQuery): Batch => {
    // A batch of nothing would report the head as scanned and skip every event.
    if (!(query.limit >= 1)) throw new EsError('USAGE', `batch size must be at least 1 (got ${query.limit})`);
    return read.deferred(query);
  };
}
