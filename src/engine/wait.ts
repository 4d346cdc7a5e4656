import type { Projection } from '../core/projection.js';
import type { EventStore } from '../ports/event-store.js';
import { LIFECYCLE, loadCheckpoint, type FaultInfo } from './checkpoint.js';
import { retryTransient, sleep } from './retry.js';

export interface WaitOptions {
  /** The position to reach; default: the head when the wait starts. */
  position?: number;
  /** Give up after this long; undefined waits for ever. */
  timeoutMs?: number;
  /** Time between two looks at the checkpoints (default 100 ms). */
  pollMs?: number;
  /** Ends the wait early (outcome `interrupted`). */
  signal?: AbortSignal;
  /** Called after every look, for progress. */
  onPoll?: (progress: WaitProgress[]) => void;
}

export interface WaitProgress {
  name: string;
  /** The checkpoint position seen last. */
  position: number;
  reached: boolean;
  /** Why this projection will not get there without help; null while it may. */
  failure: 'faulted' | 'stale-version' | null;
  error: FaultInfo | null;
}

export type WaitOutcome = 'reached' | 'failed' | 'timed-out' | 'interrupted';

export interface WaitResult {
  target: number;
  outcome: WaitOutcome;
  waitedMs: number;
  projections: WaitProgress[];
}

/**
 * Where one projection stands against `target`. It has reached it when its checkpoint is there, or
 * when none of its events lie between its checkpoint and the target: a projection that handles rare
 * types only checkpoints when it runs, so its checkpoint may trail the head for ever while it has
 * nothing to do. That second test needs the head at or past the target, or events that are not
 * written yet would count as "none pending". Reads one checkpoint event and at most one log event.
 */
async function look(store: EventStore, projection: Projection<unknown>, target: number, head: number): Promise<WaitProgress> {
  const checkpoint = await loadCheckpoint(store, projection.name);
  const stale = checkpoint.version !== null && checkpoint.version !== projection.version;
  const faulted = checkpoint.last?.type === LIFECYCLE.faulted;
  let reached = checkpoint.position >= target;
  if (checkpoint.cursor || store.commitOrder) {
    // Commit order: events at or below the target may still follow the checkpoint's cursor even
    // when its position is past the target (a newer transaction committed smaller positions), and
    // committed events may not be readable yet (an older transaction still open), so count them.
    reached = head >= target && (await store.pending(checkpoint.position, projection.types, checkpoint.cursor, target)).count === 0;
  } else if (!reached && head >= target) {
    const next = await store.readBatch({
      after: checkpoint.position,
      types: projection.types,
      limit: 1,
    });
    const first = next.events[0];
    reached = first === undefined || first.position > target;
  }
  return {
    name: projection.name,
    position: checkpoint.position,
    reached,
    // A stale-version projection is never run again before a rebuild, and a faulted one stays stopped:
    // waiting on either could only end in a timeout, and its read model needs a person anyway.
    failure: stale ? 'stale-version' : faulted ? 'faulted' : null,
    error: faulted ? checkpoint.fault : null,
  };
}

/**
 * Waits until every projection has reached a position, by polling checkpoints; it runs nothing
 * itself (another process does). Fails as soon as one is faulted or stale-version.
 */
export async function waitForProjections(
  store: EventStore,
  projections: readonly Projection<unknown>[],
  options: WaitOptions = {},
): Promise<WaitResult> {
  const started = performance.now();
  const pollMs = options.pollMs ?? 100;
  const read = <T>(work: () => Promise<T>): Promise<T> => retryTransient(store, work);
  const target = options.position ?? (await read(() => store.head()));
  const result = (outcome: WaitOutcome, progress: WaitProgress[]): WaitResult => ({
    target,
    outcome,
    waitedMs: Math.round(performance.now() - started),
    projections: progress,
  });
  for (;;) {
    const head = await read(() => store.head());
    const progress: WaitProgress[] = [];
    for (const projection of projections) progress.push(await read(() => look(store, projection, target, head)));
    options.onPoll?.(progress);
    if (progress.some((p) => p.failure !== null)) return result('failed', progress);
    if (progress.every((p) => p.reached)) return result('reached', progress);
    if (options.signal?.aborted) return result('interrupted', progress);
    const left = options.timeoutMs === undefined ? pollMs : options.timeoutMs - (performance.now() - started);
    if (left <= 0) return result('timed-out', progress);
    await sleep(Math.min(pollMs, left), options.signal);
  }
}
