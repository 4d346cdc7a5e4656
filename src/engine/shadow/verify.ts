import { EsError } from '../../core/errors.js';
import type { Projection } from '../../core/projection.js';
import type { EventStore, ShadowSpace, TableComparison } from '../../ports/event-store.js';
import { CheckpointStream } from '../checkpoints.js';
import { HANDOVER_WAIT_MS, takeOverLease, type Lease, type LeaseKeeper } from '../lease.js';
import type { RunOptions, RunResult } from '../types.js';
import { buildCopy } from './build.js';
import { requireTables } from './promote.js';
import { SHADOW_EVENTS, copyStream, liveMark } from './stream.js';

/** Rows of each kind shown per table. */
export const EXAMPLES_PER_KIND = 20;

export interface VerifyResult {
  name: string;
  /** The live position the copy was built to and compared at. */
  position: number;
  identical: boolean;
  tables: TableComparison[];
  /** How long the live runner was held (its lease taken over): the catch-up and the snapshot. */
  pausedMs: number;
  durationMs: number;
  /** The copy was kept as the projection's shadow (`--keep`). */
  kept: boolean;
}

export interface VerifyOptions extends Pick<RunOptions, 'batchSize' | 'signal' | 'onProgress'> {
  /** The copy's own lease (verify:<name>), held for the whole verify. */
  lease: Lease;
  keeper: LeaseKeeper;
  keep: boolean;
  /** The shadow's space, for `--keep`. */
  shadow: ShadowSpace;
}

/** Thrown when a build of the copy did not get to where it had to. */
function incomplete(name: string, result: RunResult): EsError {
  if (result.state === 'faulted') return new EsError('FAULTED', `${name}: the rebuilt copy faulted: ${result.error?.message ?? 'unknown error'}`);
  if (result.state === 'locked') return new EsError('LOCKED', result.error?.message ?? `${name}: lost its lease`);
  return new EsError('INTERRUPTED', `${name}: interrupted; nothing was compared`);
}

/**
 * Rebuilds a projection beside its live read model to exactly the live position and compares each
 * table it declares, row by row by primary key. The copy is built while the live runner goes on; only
 * the last stretch (what the live runner did meanwhile) and a snapshot of both sides are made under
 * the live lease, taken over, so the live runner pauses for seconds, not for the rebuild.
 */
export async function verifyProjection(store: EventStore, projection: Projection, space: ShadowSpace, options: VerifyOptions): Promise<VerifyResult> {
  const started = performance.now();
  const { name } = projection;
  const tables = requireTables(projection);
  if (options.keep && (await liveMark(store, options.shadow, name, 'shadow')) !== null) {
    throw new EsError('USAGE', `${name} has a shadow already, so --keep has nowhere to keep the copy: drop it first (es project drop-shadow ${name})`);
  }
  // A copy of an earlier verify that was killed is not trusted: this one starts from the first event.
  await dropCopy(store, projection, space, options.lease);
  const run = { batchSize: options.batchSize, signal: options.signal, onProgress: options.onProgress };
  const first = await buildCopy(store, projection, space, 'verify', { ...run, leases: new Map([[name, options.lease]]) });
  if (first.state !== 'up-to-date' || first.interrupted) throw incomplete(name, first);
  const pauseStarted = performance.now();
  const live: Lease = await takeOverLease(store, options.keeper, name, HANDOVER_WAIT_MS);
  let snapshot;
  let position: number;
  try {
    const last = await buildCopy(store, projection, space, 'verify', { ...run, leases: new Map([[name, live]]) });
    if (last.state !== 'up-to-date' || last.interrupted) throw incomplete(name, last);
    position = last.to;
    snapshot = await space.snapshot();
  } finally {
    await live.release();
  }
  const pausedMs = Math.round(performance.now() - pauseStarted);
  const compared: TableComparison[] = [];
  try {
    for (const table of tables) compared.push(await snapshot.compare(table, EXAMPLES_PER_KIND));
  } finally {
    await snapshot.close();
  }
  const identical = compared.every((t) => t.onlyLive === 0 && t.onlyRebuilt === 0 && t.different === 0 && t.note === undefined);
  if (options.keep) await keepAsShadow(store, projection, space, options.lease);
  else await dropCopy(store, projection, space, options.lease);
  return { name, position, identical, tables: compared, pausedMs, durationMs: Math.round(performance.now() - started), kept: options.keep };
}

/** Drops the verify copy (if any) and ends its stream. */
async function dropCopy(store: EventStore, projection: Projection, space: ShadowSpace, lease: Lease): Promise<void> {
  const mark = await liveMark(store, space, projection.name, 'verify');
  await space.drop();
  if (mark === null) return;
  const stream = await CheckpointStream.load(store, projection, lease.fence, copyStream('verify', projection.name));
  await stream.append(store, SHADOW_EVENTS.dropped, { position: mark.position, id: mark.id });
}

/** `--keep`: the copy becomes the shadow, and the shadow's stream says where it stands. */
async function keepAsShadow(store: EventStore, projection: Projection, space: ShadowSpace, lease: Lease): Promise<void> {
  const mark = await space.mark();
  if (mark === null) return;
  await space.keepAsShadow();
  const verify = await CheckpointStream.load(store, projection, lease.fence, copyStream('verify', projection.name));
  await verify.append(store, SHADOW_EVENTS.dropped, { position: mark.position, id: mark.id, keptAsShadow: true });
  const shadow = await CheckpointStream.load(store, projection, undefined, copyStream('shadow', projection.name));
  const resume = mark.cursor === undefined ? {} : { resume: mark.cursor as never };
  await shadow.append(store, SHADOW_EVENTS.started, { position: mark.position, id: mark.id, ...resume });
}
