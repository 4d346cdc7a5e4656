import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Keeps the memory of a long catch-up flat.
 *
 * `JSON.parse` internalizes short string values (ids such as "o1650" or "sku-00367"): V8 puts them
 * in old space and in its string table, which lives outside the heap, and only a full mark-compact
 * drops the dead ones. V8 schedules those by the old generation's allocation limit, which does not
 * count the string table, so without help a rebuild's RSS climbs with the number of distinct short
 * strings parsed so far (110 MB after 1M benchmark events, 141 MB after 5M; a hand-written
 * better-sqlite3 loop does the same). A full collection now and then, paced so that it never takes
 * more than 1% of the time, keeps the peak where it is after the first second.
 */
const MIN_INTERVAL_MS = 1000;
/** Wait at least this many times the last collection's duration before the next one. */
const COST_FACTOR = 100;

let collect: (() => void) | null | undefined;
let lastAt = performance.now();
let nextAfterMs = MIN_INTERVAL_MS;

/** `gc` from `node --expose-gc`, or one got from a fresh context with the flag set for a moment. */
function fullCollection(): (() => void) | null {
  const exposed = (globalThis as { gc?: unknown }).gc;
  if (typeof exposed === 'function') return exposed as () => void;
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    setFlagsFromString('--no-expose-gc');
    return typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    return null;
  }
}

/**
 * Call after each batch of work; collects when the pace allows, and says whether it did. Idle
 * processes (status, a --follow with nothing to do) are never touched.
 */
export function afterBatch(): boolean {
  const now = performance.now();
  if (now - lastAt < nextAfterMs) return false;
  collect ??= fullCollection();
  if (collect === null) return false;
  collect();
  const done = performance.now();
  lastAt = done;
  nextAfterMs = Math.max(MIN_INTERVAL_MS, (done - now) * COST_FACTOR);
  return true;
}
