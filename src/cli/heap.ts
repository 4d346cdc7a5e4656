import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Keeps the memory of a long catch-up flat.
 *
 * `JSON.parse` internalizes short string values (ids such as "o1650" or "sku-00367"): V8 puts them
 * in old space and in its string table, which lives outside the heap, and only a full mark-compact
 * drops the dead ones. V8 schedules those by the old generation's allocation limit, which does not
 * count the string table, so without help a rebuild's RSS climbs with the number of distinct short
 * strings parsed so far (110 MB after 1M benchmark events, 141 MB after 5M; a hand-written
 * better-sqlite3 loop does the same). A full collection now and then keeps the peak flat.
 *
 * The pace: only while events are being processed, at most once a second, and never sooner than
 * 100 times the last collection's duration, so collecting takes at most 1% of the time. Before the
 * first collection is timed, its cost is estimated from the size of the live heap, so a projection
 * that keeps a large state in memory is not paused early in its run. (Waiting for RSS to grow
 * first does not work: RSS hardly falls after a collection, so each one raised the bar.)
 */
const MIN_INTERVAL_MS = 1000;
/** Wait at least this many times the last collection's duration before the next one. */
const COST_FACTOR = 100;
/** A full collection's cost per MB of live heap, before one is timed (0.4–0.7 ms measured here). */
const ESTIMATED_MS_PER_MB = 1;

export interface PacerOptions {
  /** Gives the function that runs a full collection, or null when there is none; asked once, when first needed. */
  collector: () => (() => void) | null;
  now?: () => number;
  heapUsed?: () => number;
}

/** Returns the function to call after each batch with the number of events it processed; it says whether it collected. */
export function createPacer(options: PacerOptions): (events: number) => boolean {
  const now = options.now ?? (() => performance.now());
  const heapUsed = options.heapUsed ?? (() => getHeapStatistics().used_heap_size);
  let collect: (() => void) | null | undefined;
  let since: number | undefined;
  let gapMs = 0;
  return (events) => {
    if (events <= 0) return false;
    const started = now();
    if (since === undefined) {
      since = started;
      gapMs = Math.max(MIN_INTERVAL_MS, (heapUsed() / 2 ** 20) * ESTIMATED_MS_PER_MB * COST_FACTOR);
      return false;
    }
    if (started - since < gapMs) return false;
    if (collect === undefined) collect = options.collector();
    if (collect === null) return false;
    collect();
    const done = now();
    since = done;
    gapMs = Math.max(MIN_INTERVAL_MS, (done - started) * COST_FACTOR);
    return true;
  };
}

/** `gc` from `node --expose-gc`, or one got from a fresh context with the flag set for a moment. */
export function fullCollection(): (() => void) | null {
  const exposed = (globalThis as { gc?: unknown }).gc;
  if (typeof exposed === 'function') return exposed as () => void;
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    return null;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

/** The CLI's pacer: call after each batch of run, rebuild or replay-from with the events it processed. */
export const afterBatch = createPacer({ collector: fullCollection });
