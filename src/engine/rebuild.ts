import { errorMessage, usage } from '../core/errors.js';
import type { Projection } from '../core/projection.js';
import type { EventStore } from '../ports/event-store.js';
import { CHECKPOINT_KEEP, LIFECYCLE, checkpointStream, loadCheckpoint, replayMark } from './checkpoint.js';
import { commitWithRetry, isThenable } from './retry.js';
import { runProjection } from './run.js';
import { deliveryFor } from './delivery.js';
import { completeIntent, startIntent } from './intent.js';
import { ownOptions, runTogether } from './run-together.js';
import { fault, idleResult } from './results.js';
import type { RunOptions, RunResult } from './types.js';
import { fenced } from './fences.js';


/**
 * Moves the checkpoint back (and, for a rebuild, empties the read model) in one transaction. The
 * event records how far the projection had been (`replayingUntil`): the events up to there are
 * handled again, and told so by `context.replaying`, across restarts until the position passes it.
 */
async function moveCheckpoint<Db>(
  store: EventStore<Db>,
  projection: Projection<Db>,
  event: { type: string; position: number; extra?: Record<string, unknown> },
  apply: ((db: Db) => void | Promise<void>) | undefined,
  options: Pick<RunOptions, 'fenceFor'>,
): Promise<void> {
  const checkpoint = await loadCheckpoint(store, projection.name);
  // A replay of a replay still ends where the first one started from.
  const mark = replayMark(Math.max(checkpoint.position, checkpoint.replayingUntil), event.position);
  await commitWithRetry(store, {
    ...fenced(options, [projection.name]),
    apply,
    streamId: checkpointStream(projection.name),
    expectedVersion: checkpoint.streamVersion === 0 ? 'no-stream' : checkpoint.streamVersion,
    event: { type: event.type, data: { position: event.position, version: projection.version, ...event.extra, ...mark } },
    keep: CHECKPOINT_KEEP,
  });
}

/** Thrown inside the reset's transaction to roll it back and carry the projection's own error. */
class ResetFailure extends Error {
  constructor(readonly original: unknown) {
    super(errorMessage(original));
  }
}

const isAsyncFunction = (fn: unknown): boolean => (fn as { constructor?: { name?: string } })?.constructor?.name === 'AsyncFunction';

export function noResetMessage(name: string): string {
  return (
    `cannot rebuild ${name}: it defines no reset(db), so the replay would add to its current read model; ` +
    'add reset(db) that empties its tables, or reset() {} when it has nothing to empty'
  );
}

const SYNC_RESET =
  'reset must be synchronous on the SQLite store (it runs inside the rebuild\'s transaction); it returned a Promise, and nothing was changed';

/**
 * The reset as a transaction's `apply`. On a synchronous store a reset that returns a Promise is
 * refused inside the transaction, which then rolls back whatever its synchronous part wrote.
 */
function resetApply<Db>(store: Pick<EventStore<Db>, 'synchronous' | 'isTransient'>, reset: (db: Db) => void | Promise<void>) {
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

/**
 * Empties the read model and the checkpoint in one transaction. Returns a faulted result, with
 * nothing changed, when the projection cannot be reset: it has no reset, its reset is async on a
 * synchronous store, or its setup or reset throws. Otherwise null.
 */
export async function resetProjection<Db>(
  store: EventStore<Db>,
  projection: Projection<Db>,
  options: Pick<RunOptions, 'fenceFor' | 'targets'> = {},
): Promise<RunResult | null> {
  const target = options.targets?.get(projection.name);
  const checkpoint = await loadCheckpoint(store, projection.name);
  const refuse = (message: string): RunResult =>
    idleResult(projection.name, checkpoint.position, 'faulted', { error: fault(message) });
  const { reset } = projection;
  if (reset === null) return refuse(noResetMessage(projection.name));
  // Refused before it is called: the code after its first await would run outside any transaction.
  if ((target ?? store).synchronous && isAsyncFunction(reset)) {
    return refuse(`reset failed: ${SYNC_RESET.replace('it returned a Promise', 'it is an async function')}`);
  }
  if (target) {
    // Two databases: an intent in the checkpoint stream first, so a kill at any step is finished by the next run.
    const delivery = deliveryFor(store, projection, target, () => () => {}, options);
    const unfinished = await delivery.resume();
    if (unfinished) return refuse(unfinished.message);
    try {
      await delivery.setup();
    } catch (error) {
      return refuse(`setup failed: ${errorMessage(error)}`);
    }
    const failure = await startIntent(store as EventStore, projection as Projection, target, { pending: 'reset' }, 0, options);
    return failure ? refuse(failure.message) : null;
  }
  try {
    await projection.setup(store.readModel);
  } catch (error) {
    return refuse(`setup failed: ${errorMessage(error)}`);
  }
  try {
    await moveCheckpoint(store, projection, { type: LIFECYCLE.reset, position: 0 }, resetApply(store, reset), options);
  } catch (error) {
    if (!(error instanceof ResetFailure)) throw error;
    return refuse(`reset failed: ${errorMessage(error.original)}`);
  }
  return null;
}

/** Resets each projection, then replays them all from the first event in one pass. */
export async function rebuildProjections<Db>(
  store: EventStore<Db>,
  projections: readonly Projection<Db>[],
  options: RunOptions,
): Promise<RunResult[]> {
  const results = new Map<string, RunResult>();
  const ready: Projection<Db>[] = [];
  for (const projection of projections) {
    const failure = await resetProjection(store, projection, options);
    if (failure) results.set(projection.name, failure);
    else ready.push(projection);
  }
  for (const result of await runTogether(store, ready, options)) results.set(result.name, { ...result, from: 0 });
  return projections.map((p) => results.get(p.name) as RunResult);
}

/** Empties the read model and the checkpoint in one transaction, then replays from the first event. */
export async function rebuildProjection<Db>(
  store: EventStore<Db>,
  projection: Projection<Db>,
  options: RunOptions,
): Promise<RunResult> {
  return (await rebuildProjections(store, [projection], options))[0] as RunResult;
}

/**
 * Moves the checkpoint so that the next event processed is the first at or after `from`, then runs.
 * The read model is kept as it is.
 */
export async function replayFrom<Db>(
  store: EventStore<Db>,
  projection: Projection<Db>,
  from: number,
  options: RunOptions,
): Promise<RunResult> {
  const head = await store.head();
  if (from > head) throw usage(`position ${from} is past the head of the log (${head})`);
  const checkpoint = await loadCheckpoint(store, projection.name);
  if (checkpoint.version !== null && checkpoint.version !== projection.version) {
    return idleResult(projection.name, checkpoint.position, 'stale-version');
  }
  const position = Math.max(0, from - 1);
  const target = options.targets?.get(projection.name);
  if (target) {
    const failure =
      (await completeIntent(store as EventStore, projection as Projection, target, options)) ??
      (await startIntent(store as EventStore, projection as Projection, target, { pending: 'replay', from }, position, options));
    if (failure) return idleResult(projection.name, checkpoint.position, 'faulted', { error: failure });
  } else await moveCheckpoint(store, projection, { type: LIFECYCLE.replay, position, extra: { from } }, undefined, options);
  const result = await runProjection(store, projection, ownOptions(options, projection.name));
  return { ...result, from: position };
}
