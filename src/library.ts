import { usage } from './core/errors.js';
import { normalizeProjection, type Projection, type ProjectionDefinition } from './core/projection.js';
import type { EventStore } from './ports/event-store.js';
import { rebuildProjections as rebuildLoaded, replayFrom as replayLoaded } from './engine/rebuild.js';
import { runProjections as runLoaded } from './engine/run/index.js';
import { DEFAULT_BATCH_SIZE, type RunOptions, type RunResult } from './engine/types.js';
import type { Publisher } from './ports/publisher.js';

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

/**
 * Runs `work` with a publisher for each projection that publishes and was given none (the CLI opens
 * its own): broker news goes to `onIncident`, and the publishers close when it is done.
 */
async function withPublishers<T>(projections: readonly Projection<unknown>[], options: RunOptions, work: (options: RunOptions) => Promise<T>): Promise<T> {
  const missing = projections.filter((p) => p.publish && !options.publishers?.has(p.name));
  if (missing.length === 0) return work(options);
  const { createPublisher } = await import('./brokers/publisher.js');
  const opened = new Map<string, Publisher>(options.publishers ?? []);
  const mine: Publisher[] = [];
  for (const { name, publish } of missing) {
    const publisher = createPublisher(publish!, {
      onDown: (message, retryInMs) => options.onIncident?.({ kind: 'broker-down', name, message, retryInMs }),
      onBack: () => options.onIncident?.({ kind: 'broker-back', name }),
    });
    mine.push(publisher);
    opened.set(name, publisher);
  }
  try {
    return await work({ ...options, publishers: opened });
  } finally {
    for (const publisher of mine) await publisher.close().catch(() => {});
  }
}

/** Catches projections up to the head, those at the same place in one pass, from code. */
export async function runProjections<Db>(
  store: StoreFor<Db>,
  projections: readonly ProjectionInput<Db>[],
  options: LibraryRunOptions = {},
): Promise<RunResult[]> {
  const loaded = projections.map(toProjection);
  return withPublishers(loaded as Projection<unknown>[], withDefaults(options), (o) => runLoaded(store as EventStore<Db>, loaded, o));
}

/** Catches a projection up to the head (see the engine's `runProjections`), from code. */
export async function runProjection<Db>(store: StoreFor<Db>, projection: ProjectionInput<Db>, options: LibraryRunOptions = {}): Promise<RunResult> {
  return (await runProjections(store, [projection], options))[0] as RunResult;
}

/** Empties the read models and checkpoints, then replays from the first event, from code. */
export async function rebuildProjections<Db>(
  store: StoreFor<Db>,
  projections: readonly ProjectionInput<Db>[],
  options: LibraryRunOptions = {},
): Promise<RunResult[]> {
  const loaded = projections.map(toProjection);
  return withPublishers(loaded as Projection<unknown>[], withDefaults(options), (o) => rebuildLoaded(store as EventStore<Db>, loaded, o));
}

/** Empties the read model and the checkpoint, then replays from the first event, from code. */
export async function rebuildProjection<Db>(store: StoreFor<Db>, projection: ProjectionInput<Db>, options: LibraryRunOptions = {}): Promise<RunResult> {
  return (await rebuildProjections(store, [projection], options))[0] as RunResult;
}

/** Moves the checkpoint to `from` and runs from there; the read model is kept. */
export async function replayFrom<Db>(store: StoreFor<Db>, projection: ProjectionInput<Db>, from: number, options: LibraryRunOptions = {}): Promise<RunResult> {
  const loaded = toProjection(projection);
  return withPublishers([loaded as Projection<unknown>], withDefaults(options), (o) => replayLoaded(store as EventStore<Db>, loaded, from, o));
}
