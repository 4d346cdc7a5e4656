import { usage } from './core/errors.js';
import { normalizeProjection, type Projection, type ProjectionDefinition } from './core/projection.js';
import type { EventStore } from './ports/event-store.js';
import { rebuildProjection as rebuildLoaded, replayFrom as replayLoaded } from './engine/rebuild.js';
import { runProjection as runLoaded } from './engine/run.js';
import { DEFAULT_BATCH_SIZE, type RunOptions, type RunResult } from './engine/types.js';

export { DEFAULT_BATCH_SIZE };

/** A projection as code has it: what `defineProjection` returns, or one `loadProjections` loaded. */
export type ProjectionInput<Db> = Projection<Db> | ProjectionDefinition<Db>;

/**
 * The store a projection runs in. `openStore` cannot know which kind of database a URL names, so its
 * store is `EventStore<unknown>`; the handlers' `db` is whatever that store's `readModel` is.
 */
export type StoreFor<Db> = EventStore<Db> | EventStore<unknown>;

/** Run options for code: all optional, `batchSize` 1000 unless given. */
export type LibraryRunOptions = Partial<RunOptions>;

function isLoaded<Db>(projection: ProjectionInput<Db>): projection is Projection<Db> {
  return typeof (projection as Partial<Projection<Db>>).handlerFor === 'function';
}

/** Validates a definition from code as the CLI validates a file's, and fills in the defaults. */
export function toProjection<Db>(projection: ProjectionInput<Db>): Projection<Db> {
  if (isLoaded(projection)) return projection;
  const name = (projection as { name?: unknown } | null)?.name;
  if (typeof name !== 'string') throw usage('a projection defined in code needs a name');
  return normalizeProjection<Db>(projection, `projection "${name}"`, name);
}

function withDefaults(options: LibraryRunOptions): RunOptions {
  return { ...options, batchSize: options.batchSize ?? DEFAULT_BATCH_SIZE };
}

/** Catches a projection up to the head (see the engine's `runProjection`), from code. */
export async function runProjection<Db>(store: StoreFor<Db>, projection: ProjectionInput<Db>, options: LibraryRunOptions = {}): Promise<RunResult> {
  return runLoaded(store as EventStore<Db>, toProjection(projection), withDefaults(options));
}

/** Empties the read model and the checkpoint, then replays from the first event, from code. */
export async function rebuildProjection<Db>(store: StoreFor<Db>, projection: ProjectionInput<Db>, options: LibraryRunOptions = {}): Promise<RunResult> {
  return rebuildLoaded(store as EventStore<Db>, toProjection(projection), withDefaults(options));
}

/** Moves the checkpoint to `from` and runs from there; the read model is kept. */
export async function replayFrom<Db>(store: StoreFor<Db>, projection: ProjectionInput<Db>, from: number, options: LibraryRunOptions = {}): Promise<RunResult> {
  return replayLoaded(store as EventStore<Db>, toProjection(projection), from, withDefaults(options));
}
