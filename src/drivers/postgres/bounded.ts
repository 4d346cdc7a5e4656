import { eventTooLarge } from '../../core/event-size.js';
import { toNumber } from './rows.js';

/**
 * Wraps `rows` (a SELECT of whole events rows as `e`, ordered by `order`, with a LIMIT) so that it
 * keeps its first rows while the data and metadata before each are under `maxBytes`: the first row
 * always, then a prefix. Sizing the text of a large json value decompresses it, so the rows are
 * first cut on their stored size (pg_column_size, which reads no value and is at most their text's
 * size plus a header), and only the rows left are measured exactly. Adds the columns `bytes` (the
 * row's) and `cut` (this row may have been the last the bound let through: the read was full).
 * Every name is `e`, so the caller selects as it did from `rows`. (OFFSET 0 keeps `bytes` a column
 * computed once: pulled up into the queries above, it was measured again at every mention.)
 */
export function boundedRows(rows: string, order: string, maxBytes: string): string {
  const stored = 'pg_column_size(e.data) + pg_column_size(e.metadata)';
  const exact = 'octet_length(e.data::text) + octet_length(e.metadata::text)';
  const running = (value: string) => `sum(${value}) OVER (ORDER BY ${order} ROWS UNBOUNDED PRECEDING)`;
  return `SELECT e.*, e.stored >= ${maxBytes} OR e.before + e.bytes >= ${maxBytes} AS cut FROM (
      SELECT e.*, ${running('e.bytes')} - e.bytes AS before FROM (
        SELECT e.*, ${exact} AS bytes FROM (SELECT e.*, ${running(stored)} AS stored FROM (${rows}) e) e
        WHERE e.stored - (${stored}) < ${maxBytes} ORDER BY ${order} OFFSET 0
      ) e
    ) e WHERE e.before < ${maxBytes}`;
}

/** Checks the rows of boundedRows (read with `bytesAt`, the index of the `bytes` column) against the largest loadable event. */
export function checkLoadable(rows: readonly unknown[][], bytesAt: number, positionAt: number, largest: number): void {
  for (const row of rows) {
    const bytes = Number(row[bytesAt]);
    if (bytes > largest) throw eventTooLarge(toNumber(row[positionAt] as string), bytes, largest);
  }
}
