import type { Projection } from '../core/projection.js';
import { sleep } from '../core/sleep.js';
import type { ProjectionStore } from '../ports/event-store.js';
import { LIFECYCLE, loadCheckpoint, type FaultInfo } from './checkpoints.js';
import { retryTransient } from './retry.js';

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
 * Where one projection stands against `target`. It has reached it when none of its events at or
 * below the target are left to read after its checkpoint: a projection that handles rare types
 * only checkpoints when it runs, so its checkpoint may trail the head for ever while it has nothing
 * to do. That needs the head at or past the target, or events not written yet would count as none
 * pending. The store counts by its own read order (on one that reads in commit order, events below
 * the target may still follow a checkpoint past it, or be held back by an older transaction).
 */
async function look(store: ProjectionStore, projection: Projection<unknown>, target: number, head: number): Promise<WaitProgress> {
  const checkpoint = await loadCheckpoint(store, projection.name);
  const stale = checkpoint.version !== null && checkpoint.version !== projection.version;
  const faulted = checkpoint.last?.type === LIFECYCLE.faulted;
  const query = { after: checkpoint.position, resume: checkpoint.resume, types: projection.types, upTo: target };
  const reached = head >= target && (await store.pending(query)).count === 0;
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
export async function waitForProjections(store: ProjectionStore, projections: readonly Projection<unknown>[], options: WaitOptions = {}): Promise<WaitResult> {
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
