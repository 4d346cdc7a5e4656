import { errorMessage, usage } from '../core/errors.js';
import type { Projection } from '../core/projection.js';
import type { EventStore } from '../ports/event-store.js';
import { CHECKPOINT_KEEP, LIFECYCLE, checkpointStream, loadCheckpoint } from './checkpoint.js';
import { retryTransient } from './retry.js';
import { runProjection } from './run.js';
import { runTogether } from './run-together.js';
import { fault, idleResult } from './results.js';
import type { RunOptions, RunResult } from './types.js';


/** Moves the checkpoint (and, for a rebuild, empties the read model) in one transaction. */
async function moveCheckpoint<Db>(
  store: EventStore<Db>,
  projection: Projection<Db>,
  event: { type: string; position: number; extra?: Record<string, unknown> },
  apply?: (db: Db) => void | Promise<void>,
): Promise<void> {
  const checkpoint = await loadCheckpoint(store, projection.name);
  await retryTransient(store, () =>
    store.commit({
      apply,
      streamId: checkpointStream(projection.name),
      expectedVersion: checkpoint.streamVersion === 0 ? 'no-stream' : checkpoint.streamVersion,
      event: { type: event.type, data: { position: event.position, version: projection.version, ...event.extra } },
      keep: CHECKPOINT_KEEP,
    }),
  );
}

/**
 * Empties the read model and the checkpoint in one transaction. Returns a faulted result when the
 * projection's setup or reset throws (nothing is changed then), otherwise null.
 */
export async function resetProjection<Db>(store: EventStore<Db>, projection: Projection<Db>): Promise<RunResult | null> {
  try {
    await projection.setup(store.readModel);
  } catch (error) {
    return idleResult(projection.name, 0, 'faulted', { error: fault(`setup failed: ${errorMessage(error)}`) });
  }
  let resetError: unknown;
  const reset = (db: Db): void | Promise<void> => {
    try {
      const done = projection.reset(db);
      if (done instanceof Promise) {
        return done.catch((error: unknown) => {
          resetError = error;
          throw error;
        });
      }
    } catch (error) {
      resetError = error;
      throw error;
    }
  };
  try {
    await moveCheckpoint(store, projection, { type: LIFECYCLE.reset, position: 0 }, reset);
  } catch (error) {
    if (resetError === undefined) throw error;
    return idleResult(projection.name, 0, 'faulted', { error: fault(`reset failed: ${errorMessage(resetError)}`) });
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
    const failure = await resetProjection(store, projection);
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
  await moveCheckpoint(store, projection, { type: LIFECYCLE.replay, position, extra: { from } });
  const result = await runProjection(store, projection, options);
  return { ...result, from: position };
}
