import { constants } from 'node:buffer';
import { getHeapStatistics } from 'node:v8';
import { EsError } from './errors.js';

/**
 * Bytes of data and metadata (as stored) a batch or a read page holds before it stops taking
 * events, besides its count: one log holds 10 MB events next to 100-byte ones, and a batch of a
 * thousand large ones once took gigabytes. A batch always takes its first event, whatever its size.
 */
export const DEFAULT_BATCH_BYTES = 16 * 2 ** 20;

/**
 * The largest event (data and metadata bytes) this process can load: V8's longest string, or a
 * quarter of the heap, since the text and the parsed value of one event are on the heap together
 * with the rest of the run. Larger ones are refused before their data is fetched, not met with an
 * abort when the heap runs out.
 */
export function largestEvent(): number {
  return Math.min(constants.MAX_STRING_LENGTH, Math.floor(getHeapStatistics().heap_size_limit / 4));
}

const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MB`;

/**
 * An environment error (exit 3), not a projection fault: no handler ran and the checkpoint stays
 * where it is; a process with a larger heap (or another tool) can read the event.
 */
export function eventTooLarge(position: number, bytes: number, largest: number): EsError {
  return new EsError(
    'ENVIRONMENT',
    `event at position ${position} is too large to load: ${mb(bytes)} of data and metadata, this process can hold ${mb(largest)} ` +
      '(a quarter of its heap, at most the longest string); raise the heap with NODE_OPTIONS=--max-old-space-size=<MB>',
    { details: { position, bytes, largest } },
  );
}

/** Refuses a byte bound that could not hold anything (a batch of nothing would skip every event). */
export function checkMaxBytes(maxBytes: number): number {
  if (!(maxBytes >= 1)) throw new EsError('USAGE', `byte bound must be at least 1 (got ${maxBytes})`);
  return maxBytes;
}
