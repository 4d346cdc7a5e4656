import { randomUUID } from 'node:crypto';
import { EsError, errorMessage, isEsError, usage } from '../../core/errors.js';
import type { Projection } from '../../core/projection.js';
import { chain } from '../../core/maybe.js';
import { sleep } from '../../core/sleep.js';
import type { AppendResult, CommitUnit, Fence, ProjectionStore, ResumeToken, ShadowSpace } from '../../ports/event-store.js';
import type { Target } from '../../ports/target.js';
import { CheckpointStream, LIFECYCLE, type CheckpointData } from '../checkpoints.js';
import { crashPoint } from '../crash-point.js';
import { commitWithRetry, retryTransient } from '../retry.js';
import type { RunLease, RunOptions } from '../types.js';
import { buildCopy } from './build.js';
import { SHADOW_EVENTS, copyStream, liveMark } from './stream.js';

/** `--max-lag`'s default: a shadow further behind the head than this is not caught up under the live lease. */
export const DEFAULT_PROMOTE_MAX_LAG = 10_000;

/** The type of the live checkpoint event a promote appends. */
export const PROMOTED = 'Promoted';

export interface PromoteResult {
  name: string;
  version: number;
  position: number;
  /** Events the shadow handled to catch up to the live position, under the live lease. */
  caughtUp: number;
  durationMs: number;
}

export interface PromoteOptions extends Pick<RunOptions, 'batchSize' | 'signal'> {
  /** The live projection's lease, taken over: the live runner pauses until it is let go. */
  lease: RunLease;
  maxLag: number;
  /** The projection's target, when its read model is not in the event store's database. */
  target?: Target;
}

/** The intent a promote into a target records first (in `$checkpoint-<name>`): what the swap is to do. */
export interface PromoteIntent {
  pending: 'promote';
  shadow: string;
  tables: string[];
}

export function promoteIntent(data: Record<string, unknown> | undefined): PromoteIntent | null {
  if (data?.pending !== 'promote' || typeof data.shadow !== 'string' || !Array.isArray(data.tables)) return null;
  return { pending: 'promote', shadow: data.shadow, tables: data.tables.map(String) };
}

/**
 * The rest of a promote into a target, from its intent on: the swap in the target (with the
 * projection's handled ids there emptied, and its mark set to the promoted position, in the
 * target's transaction), then the checkpoint that clears the intent. Each step can run again: a
 * promote killed anywhere is finished by the next promote or run (whatever version its file has).
 */
export async function completePromote(store: ProjectionStore, projection: { name: string; version: number }, target: Target, fence?: Fence): Promise<boolean> {
  const { name } = projection;
  const live = await CheckpointStream.load(store, projection, fence);
  const intent = promoteIntent(live.state.last?.data);
  if (intent === null) return false;
  const { position, resume } = live.state;
  const space = target.shadowSpace(name, 'shadow');
  try {
    // Done before is not done again: a swap that failed for a transient reason (a lock wait, busy) is tried again.
    await retryTransient(space, () =>
      space.swap(intent.tables, (db) => {
        const ids = target.handled(db);
        const marks = target.marks(db);
        return chain(ids.ensure(), () => chain(ids.clear(name), () => chain(marks.ensure(), () => chain(marks.clear(name), () => marks.mark(name, position)))));
      }),
    );
  } finally {
    await space.close();
  }
  crashPoint('promote-swapped');
  // The version the intent was written with stays (a runner of another version may finish it).
  const data: CheckpointData = {
    position,
    ...(resume === undefined ? {} : { resume }),
    ...(live.state.version === null ? {} : { version: live.state.version }),
  };
  const also = [
    { streamId: copyStream('shadow', name), event: { type: SHADOW_EVENTS.promoted, data: { position, version: live.state.version, id: intent.shadow } } },
  ];
  live.committed(data, await commitWithRetry(store, live.unit(LIFECYCLE.checkpoint, data, { also })));
  return true;
}

/**
 * The swap in the event store's database, tried again while it fails for a transient reason (on
 * PostgreSQL its lock timeout: a reader of the live tables still under way; SQLite's busy). The
 * event keeps one id over every attempt: a connection lost during COMMIT leaves the outcome unknown,
 * and the live stream ending with it then means the swap committed. Given up after the retry
 * window: LOCKED (nothing was promoted; try again later).
 */
async function swapIn(store: ProjectionStore, space: ShadowSpace, tables: string[], unit: CommitUnit, name: string): Promise<AppendResult> {
  const id = unit.event.id ?? randomUUID();
  try {
    return await retryTransient(space, () => space.promote(tables, { ...unit, event: { ...unit.event, id } }));
  } catch (error) {
    const last = await store.lastEvent(unit.streamId).catch(() => undefined);
    if (last?.id === id) return { position: last.position, version: last.version };
    if (isEsError(error) || !space.isTransient(error)) throw error;
    throw new EsError(
      'LOCKED',
      `${name}: could not make its shadow's tables the live ones: the live tables stayed in use (${errorMessage(error)}); nothing was promoted, try again`,
      { cause: error },
    );
  }
}

/** A projection without `tables` cannot be built beside the live one: exit 2, naming it and the field. */
export function requireTables(projection: Projection): string[] {
  if (projection.tables === null) {
    throw usage(`${projection.name} declares no tables (the field tables: [...] in ${projection.file}), so it cannot be rebuilt beside its live read model`);
  }
  return projection.tables;
}

/**
 * Swaps a projection's shadow in. Under the live lease (so the live position P holds still) the
 * shadow is caught up to P; then one transaction of the read model's database makes the shadow's
 * tables the live ones and appends P and the shadow's version to the live checkpoint stream. Every
 * event up to P had its side effects from the live version; the promoted version's start after P.
 */
export async function promoteShadow(store: ProjectionStore, projection: Projection, space: ShadowSpace, options: PromoteOptions): Promise<PromoteResult> {
  const started = performance.now();
  const { name, version } = projection;
  const tables = requireTables(projection);
  if (options.target && (await completePromote(store, projection, options.target, options.lease.fence))) {
    // A promote killed after its intent: finished now, and that was the promote asked for.
    const live = await CheckpointStream.load(store, projection);
    return { name, version: live.state.version ?? version, position: live.state.position, caughtUp: 0, durationMs: Math.round(performance.now() - started) };
  }
  const mark = await liveMark(store, space, name, 'shadow');
  if (mark === null) throw usage(`${name} has no shadow to promote: build one with es project rebuild ${name} --shadow`);
  if (mark.version !== version) {
    throw new EsError(
      'FAULTED',
      `${name}: its shadow was built by version ${mark.version}, but the file has version ${version}; build it again with es project rebuild ${name} --shadow`,
    );
  }
  const behind = await store.pending({ after: mark.position, resume: mark.cursor as ResumeToken | undefined, types: projection.types });
  if (behind.count > options.maxLag) {
    throw new EsError(
      'FAULTED',
      `${name}: its shadow is ${behind.count} events behind the head, more than --max-lag ${options.maxLag}; let it catch up (es project rebuild ${name} --shadow --follow) or raise --max-lag`,
    );
  }
  const leases = new Map([[name, options.lease]]);
  // A builder following the shadow (its lease taken over by the caller) may commit one batch more
  // before it sees it lost it: the catch-up then finds the shadow moved on, and starts from there.
  let caught = await buildCopy(store, projection, space, 'shadow', { batchSize: options.batchSize, signal: options.signal, leases });
  for (let retry = 0; caught.state === 'locked' && !options.lease.lost() && retry < 3; retry++) {
    await sleep(200);
    caught = await buildCopy(store, projection, space, 'shadow', { batchSize: options.batchSize, signal: options.signal, leases });
  }
  if (caught.state === 'faulted') throw new EsError('FAULTED', `${name}: its shadow faulted while catching up: ${caught.error?.message ?? 'unknown error'}`);
  if (caught.state === 'locked') throw new EsError('LOCKED', caught.error?.message ?? `${name}: lost its lease while catching up`);
  if (caught.interrupted) throw new EsError('INTERRUPTED', `${name}: interrupted while its shadow caught up; nothing was promoted`);
  const missing = await space.missing(tables);
  if (missing.length > 0) {
    throw new EsError('FAULTED', `${name}: its shadow has no table ${missing.join(', ')}: its setup did not create what tables lists`);
  }
  const at = await space.mark();
  if (at === null || at.id !== mark.id) throw new EsError('LOCKED', `${name}: its shadow was dropped or replaced by another process while it was promoted`);
  const live = await CheckpointStream.load(store, projection, options.lease.fence);
  const resume = at.cursor === undefined ? {} : { resume: at.cursor as ResumeToken };
  const data = { position: at.position, ...resume, promoted: { from: live.state.version, shadow: at.id } };
  const also = [{ streamId: copyStream('shadow', name), event: { type: SHADOW_EVENTS.promoted, data: { position: at.position, version, id: at.id } } }];
  if (space.inStore) {
    live.committed(data, await swapIn(store, space, tables, live.unit(PROMOTED, data, { also }), name));
  } else {
    if (!options.target) throw new Error(`${name}: a copy outside the event store needs its target to be promoted`);
    // Two databases: the intent first, so that a promote killed after it is finished, not lost.
    await live.append(store, PROMOTED, { ...data, pending: 'promote', shadow: at.id, tables });
    crashPoint('promote-intent');
    await completePromote(store, projection, options.target, options.lease.fence);
  }
  return { name, version, position: at.position, caughtUp: caught.processed, durationMs: Math.round(performance.now() - started) };
}

/** Removes a projection's shadow: its tables and mark, then a last event on its stream. */
export async function dropShadow(store: ProjectionStore, projection: Projection, space: ShadowSpace, fence?: RunLease['fence']): Promise<boolean> {
  const { name } = projection;
  const mark = await liveMark(store, space, name, 'shadow');
  await space.drop();
  if (mark === null) return false;
  const stream = await CheckpointStream.load(store, projection, fence, copyStream('shadow', name));
  await stream.append(store, SHADOW_EVENTS.dropped, { position: mark.position, id: mark.id });
  return true;
}
