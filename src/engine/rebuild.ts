import { errorMessage, usage } from '../core/errors.js';
import { isThenable } from '../core/maybe.js';
import type { Projection } from '../core/projection.js';
import type { ProjectionStore } from '../ports/event-store.js';
import type { Target } from '../ports/target.js';
import { CheckpointStream, LIFECYCLE, fault, loadCheckpoint } from './checkpoints.js';
import { deliveryFor } from './delivery/index.js';
import { ResetFailure, completeIntent, startIntent } from './intent.js';
import { idleResult } from './results.js';
import { runProjection, runProjections } from './run/index.js';
import type { RunOptions, RunResult } from './types.js';

const isAsyncFunction = (fn: unknown): boolean => (fn as { constructor?: { name?: string } })?.constructor?.name === 'AsyncFunction';

export function noResetMessage(name: string): string {
  return (
    `cannot rebuild ${name}: it defines no reset(db), so the replay would add to its current read model; ` +
    'add reset(db) that empties its tables, or reset() {} when it has nothing to empty'
  );
}

const SYNC_RESET =
  "reset must be synchronous here (it runs inside the rebuild's transaction, which cannot span an await); it returned a Promise, and nothing was changed";

/**
 * The reset as a transaction's `apply`. On a synchronous store a reset that returns a Promise is
 * refused inside the transaction, which then rolls back whatever its synchronous part wrote.
 */
function resetApply<Db>(store: Pick<ProjectionStore<Db>, 'synchronous' | 'isTransient'>, reset: (db: Db) => void | Promise<void>) {
  if (!store.synchronous) {
    return async (db: Db): Promise<void> => {
      try {
        await reset(db);
      } catch (error) {
        // A connection lost under the reset is the store's trouble: the transaction is retried.
        if (store.isTransient(error)) throw error;
        throw new ResetFailure(error);
      }
    };
  }
  return (db: Db): void => {
    let done: unknown;
    try {
      done = reset(db);
    } catch (error) {
      throw new ResetFailure(error);
    }
    if (isThenable(done)) {
      // Nobody will await it: keep its rejection from crashing the process.
      Promise.resolve(done).catch(() => {});
      throw new ResetFailure(new Error(SYNC_RESET));
    }
  };
}

/** A target's reset: an intent in the checkpoint stream first, so a kill at any step is finished by the next run. */
async function resetTarget(store: ProjectionStore, projection: Projection, target: Target, options: Pick<RunOptions, 'leases'>): Promise<string | null> {
  const fence = options.leases?.get(projection.name)?.fence;
  const delivery = deliveryFor(store, projection, target, () => () => {}, fence);
  const unfinished = await delivery.resume();
  if (unfinished) return unfinished.message;
  try {
    await delivery.setup();
  } catch (error) {
    return `setup failed: ${errorMessage(error)}`;
  }
  const failure = await startIntent(store, projection, target, { pending: 'reset' }, 0, fence);
  return failure?.message ?? null;
}

/** The reset in the store's own database: the read model emptied and the checkpoint moved back, in one transaction. */
async function resetInStore<Db>(
  store: ProjectionStore<Db>,
  projection: Projection<Db>,
  reset: (db: Db) => void | Promise<void>,
  options: Pick<RunOptions, 'leases'>,
): Promise<string | null> {
  try {
    await projection.setup(store.readModel);
  } catch (error) {
    return `setup failed: ${errorMessage(error)}`;
  }
  const stream = await CheckpointStream.load(store, projection, options.leases?.get(projection.name)?.fence);
  try {
    await stream.append(store, LIFECYCLE.reset, { position: 0 }, { apply: resetApply(store, reset), movesBack: true });
  } catch (error) {
    if (!(error instanceof ResetFailure)) throw error;
    return `reset failed: ${errorMessage(error.original)}`;
  }
  return null;
}

/**
 * Empties the read model and the checkpoint in one transaction. Returns a faulted result, with
 * nothing changed, when the projection cannot be reset: it has no reset, its reset is async on a
 * synchronous store, or its setup or reset throws. Otherwise null.
 */
export async function resetProjection<Db>(
  store: ProjectionStore<Db>,
  projection: Projection<Db>,
  options: Pick<RunOptions, 'leases' | 'targets'> = {},
): Promise<RunResult | null> {
  const target = options.targets?.get(projection.name);
  const checkpoint = await loadCheckpoint(store, projection.name);
  const refuse = (message: string): RunResult => idleResult(projection.name, checkpoint.position, 'faulted', { error: fault(message) });
  const { reset } = projection;
  if (reset === null) return refuse(noResetMessage(projection.name));
  // Refused before it is called: the code after its first await would run outside any transaction.
  if ((target ?? store).synchronous && isAsyncFunction(reset)) {
    return refuse(`reset failed: ${SYNC_RESET.replace('it returned a Promise', 'it is an async function')}`);
  }
  const refused = target
    ? await resetTarget(store as ProjectionStore, projection as Projection, target, options)
    : await resetInStore(store, projection, reset, options);
  return refused === null ? null : refuse(refused);
}

/** Resets each projection, then replays them all from the first event in one pass. */
export async function rebuildProjections<Db>(store: ProjectionStore<Db>, projections: readonly Projection<Db>[], options: RunOptions): Promise<RunResult[]> {
  const results = new Map<string, RunResult>();
  const ready: Projection<Db>[] = [];
  for (const projection of projections) {
    const failure = await resetProjection(store, projection, options);
    if (failure) results.set(projection.name, failure);
    else ready.push(projection);
  }
  for (const result of await runProjections(store, ready, options)) results.set(result.name, { ...result, from: 0 });
  return projections.map((p) => results.get(p.name) as RunResult);
}

/** Empties the read model and the checkpoint in one transaction, then replays from the first event. */
export async function rebuildProjection<Db>(store: ProjectionStore<Db>, projection: Projection<Db>, options: RunOptions): Promise<RunResult> {
  return (await rebuildProjections(store, [projection], options))[0] as RunResult;
}

/**
 * Moves the checkpoint so that the next event processed is the first at or after `from`, then runs.
 * The read model is kept as it is.
 */
export async function replayFrom<Db>(store: ProjectionStore<Db>, projection: Projection<Db>, from: number, options: RunOptions): Promise<RunResult> {
  const head = await store.head();
  if (from > head) throw usage(`position ${from} is past the head of the log (${head})`);
  const fence = options.leases?.get(projection.name)?.fence;
  const stream = await CheckpointStream.load(store, projection, fence);
  const { version } = stream.state;
  if (version !== null && version !== projection.version) return idleResult(projection.name, stream.state.position, 'stale-version');
  const position = Math.max(0, from - 1);
  const target = options.targets?.get(projection.name);
  if (target) {
    const failure =
      (await completeIntent(store as ProjectionStore, projection as Projection, target, fence)) ??
      (await startIntent(store as ProjectionStore, projection as Projection, target, { pending: 'replay', from }, position, fence));
    if (failure) return idleResult(projection.name, stream.state.position, 'faulted', { error: failure });
  } else await stream.append(store, LIFECYCLE.replay, { position, from }, { movesBack: true });
  const result = await runProjection(store, projection, options);
  return { ...result, from: position };
}
