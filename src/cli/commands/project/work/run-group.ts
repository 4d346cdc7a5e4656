import { EsError, isEsError } from '../../../../core/errors.js';
import type { Projection } from '../../../../core/projection.js';
import { acquireLease, LeaseKeeper, type Lease } from '../../../../engine/lease.js';
import { idleResult } from '../../../../engine/results.js';
import type { RunOptions, RunResult } from '../../../../engine/types.js';
import type { EventStore } from '../../../../ports/event-store.js';
import { afterBatch } from '../../../heap.js';
import type { Output } from '../../../output.js';
import type { LockWait, OptionsFor } from './options.js';
import { progressText, reportOutcome, type Outcome } from './present.js';

/** Runs, rebuilds or replays a set of projections (in one pass where the engine can). */
export type Job = (store: EventStore<unknown>, projections: Projection<unknown>[], options: RunOptions) => Promise<RunResult[]>;

interface Held {
  projection: Projection<unknown>;
  lease: Lease;
}

/**
 * Without --follow: projections with the same options share one pass over the log, one group after
 * another until a signal; each group's outcomes are reported as it ends.
 */
export async function runInGroups(
  out: Output,
  store: EventStore<unknown>,
  projections: Projection<unknown>[],
  job: Job,
  optionsFor: OptionsFor,
  signal: AbortSignal,
): Promise<Outcome[]> {
  const groups = new Map<string, Projection<unknown>[]>();
  for (const projection of projections) {
    const { batchSize, onError } = optionsFor(projection);
    const key = `${batchSize}/${onError}`;
    groups.set(key, [...(groups.get(key) ?? []), projection]);
  }
  const outcomes: Outcome[] = [];
  for (const group of groups.values()) {
    if (signal.aborted) break;
    const done = await runGroup(out, store, group, job, optionsFor(group[0] as Projection<unknown>));
    for (const outcome of done) reportOutcome(out, outcome);
    outcomes.push(...done);
  }
  return outcomes;
}

/**
 * Takes the lock of every projection of a group, runs the job on those it got, and releases them.
 * A projection another process holds is reported and left alone; the others still run.
 */
async function runGroup(
  out: Output,
  store: EventStore<unknown>,
  projections: Projection<unknown>[],
  job: Job,
  options: RunOptions & LockWait,
): Promise<Outcome[]> {
  const { deadline, asked, leaseMs, ...runOptions } = options;
  const outcomes = new Map<string, Outcome>();
  const keeper = new LeaseKeeper(store, leaseMs);
  const held: Held[] = [];
  try {
    await takeLeases(store, keeper, projections, { deadline, asked, signal: options.signal }, held, outcomes);
    if (held.length > 0 && options.signal?.aborted) {
      // A signal came while waiting for another projection's lock: nothing of these was started.
      for (const { projection } of held) {
        outcomes.set(projection.name, { result: idleResult(projection.name, 0, 'behind', { interrupted: true }) });
      }
    } else if (held.length > 0) {
      await runHeld(out, store, held, job, runOptions, outcomes);
    }
  } finally {
    for (const { lease } of held) await lease.release();
  }
  return projections.map((p) => outcomes.get(p.name) as Outcome);
}

/** Adds each lease taken to `held` (released by the caller, whatever happens); a lock held elsewhere is an outcome. */
async function takeLeases(
  store: EventStore<unknown>,
  keeper: LeaseKeeper,
  projections: Projection<unknown>[],
  wait: { deadline: number; asked?: string; signal?: AbortSignal },
  held: Held[],
  outcomes: Map<string, Outcome>,
): Promise<void> {
  for (const projection of projections) {
    try {
      held.push({ projection, lease: await acquireLease(store, keeper, projection.name, wait) });
    } catch (error) {
      if (!isEsError(error) || (error.code !== 'LOCKED' && error.code !== 'INTERRUPTED')) throw error;
      const interrupted = error.code === 'INTERRUPTED';
      outcomes.set(projection.name, { result: idleResult(projection.name, 0, 'behind', { interrupted }), failure: error });
    }
  }
}

/** Runs the job on the projections whose leases are held, with a spinner on a terminal. */
async function runHeld(out: Output, store: EventStore<unknown>, held: Held[], job: Job, runOptions: RunOptions, outcomes: Map<string, Outcome>): Promise<void> {
  const spinner = runOptions.follow ? null : await out.spinner(held.map((h) => h.projection.name).join(', '));
  const startedAt = performance.now();
  const processed = new Map<string, number>();
  try {
    const results = await job(
      store,
      held.map((h) => h.projection),
      {
        ...runOptions,
        // A lost lease stops its projection's run (state `locked`); the others go on.
        leases: new Map(held.map((h) => [h.projection.name, h.lease])),
        countTotal: spinner !== null,
        onProgress: (p) => {
          afterBatch(p.processed - (processed.get(p.name) ?? 0));
          processed.set(p.name, p.processed);
          if (spinner) spinner.text = progressText(out, p, startedAt);
        },
      },
    );
    for (const result of results) {
      // Stopped by a fenced commit (the lease taken over before its renewal noticed), or by the renewal.
      const failure = result.state === 'locked' ? new EsError('LOCKED', result.error?.message ?? `${result.name}: lost its lease`) : null;
      outcomes.set(result.name, failure ? { result, failure } : { result });
    }
  } catch (error) {
    if (!isEsError(error) || error.code === 'USAGE') throw error;
    for (const { projection } of held) outcomes.set(projection.name, { result: idleResult(projection.name, 0, 'behind'), failure: error });
  } finally {
    spinner?.stop();
  }
}
