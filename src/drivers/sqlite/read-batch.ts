import type { Database } from 'better-sqlite3';
import { EsError } from '../../core/errors.js';
import type { Batch, BatchQuery } from '../../ports/event-store.js';
import { checkMaxBytes, DEFAULT_BATCH_BYTES, largestEvent } from '../../core/event-size.js';
import { sizedColumns, takeBounded, toEventFromValues, type SizedValues } from './rows.js';
import { prepareHead } from './read.js';

/**
 * A projection's next batch. SQLite answers `type IN (…) ORDER BY position LIMIT n` by sorting every
 * match, so for several types we take up to n positions per type from the covering (type, position)
 * index, merge them, and fetch just those rows. One type reads the index directly; all types walk
 * the rowid. All reads share one snapshot, so `scannedTo` (the head when the batch is not full)
 * cannot pass an event the batch did not see. Rows are taken one by one until the batch's bytes
 * reach `maxBytes`: the rest of the LIMIT is never read.
 */
export function prepareReadBatch(db: Database) {
  const head = prepareHead(db);
  const largest = largestEvent();
  const columns = sizedColumns(largest);
  // Rows as arrays (raw): no object per row, a measurable part of a rebuild.
  const allTypes = db
    .prepare<[number, number], SizedValues>(`SELECT ${columns} FROM events NOT INDEXED WHERE position > ? AND system = 0 ORDER BY position LIMIT ?`)
    .raw();
  const oneType = db
    .prepare<[string, number, number], SizedValues>(
      `SELECT ${columns} FROM events INDEXED BY events_type_position
     WHERE system = 0 AND type = ? AND position > ? ORDER BY position LIMIT ?`,
    )
    .raw();
  const positionsOfType = db
    .prepare<[string, number, number], number>(
      `SELECT position FROM events INDEXED BY events_type_position
       WHERE system = 0 AND type = ? AND position > ? ORDER BY position LIMIT ?`,
    )
    .pluck();
  // In the order of the array (json_each's rowid, no sort), so the rows can be taken as they come.
  const byPositions = db
    .prepare<[string], SizedValues>(
      `SELECT ${sizedColumns(largest, 'events.')}
     FROM json_each(?) AS wanted JOIN events ON events.position = wanted.value ORDER BY wanted.rowid`,
    )
    .raw();

  /** SQLite reads in position order: the position alone says where to resume. */
  const noToken = (): undefined => undefined;

  /** The matching rows in position order, read one at a time as they are taken. */
  function rows({ after, types, limit }: BatchQuery): Iterable<SizedValues> {
    if (types === null) return allTypes.iterate(after, limit);
    if (types.length === 1) return oneType.iterate(types[0] as string, after, limit);
    const positions: number[] = [];
    for (const type of types) positions.push(...positionsOfType.all(type, after, limit));
    if (positions.length === 0) return [];
    positions.sort((a, b) => a - b);
    return byPositions.iterate(JSON.stringify(positions.slice(0, limit)));
  }

  const read = db.transaction((query: BatchQuery): Batch => {
    const bounded = takeBounded(rows(query), query.maxBytes ?? DEFAULT_BATCH_BYTES, largest);
    let { rows: found, cut } = bounded;
    let scannedTo = Math.max(head(), query.after);
    const cap = query.until?.after;
    if (cap !== undefined) {
      // Positions are in order here: what lies past the cap is cut off, and the read ends at the cap.
      const within = found.findIndex((row) => row[0] > cap);
      if (within >= 0) [found, cut] = [found.slice(0, within), false];
      scannedTo = Math.max(Math.min(scannedTo, cap), query.after);
      if (within >= 0) return { events: found.map(toEventFromValues), scannedTo, resumeAfter: noToken };
    }
    const last = found[found.length - 1];
    const full = cut || found.length >= query.limit;
    if (full && last) scannedTo = last[0];
    return { events: found.map(toEventFromValues), scannedTo, resumeAfter: noToken };
  });
  return (query: BatchQuery): Batch => {
    // A batch of nothing would report the head as scanned and skip every event.
    if (!(query.limit >= 1)) throw new EsError('USAGE', `batch size must be at least 1 (got ${query.limit})`);
    if (query.maxBytes !== undefined) checkMaxBytes(query.maxBytes);
    return read.deferred(query);
  };
}
