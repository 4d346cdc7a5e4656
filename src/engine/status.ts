import type { Projection } from '../core/projection.js';
import type { LeaseRow, LeaseStore, ProjectionStore, WorkerRegistry } from '../ports/event-store.js';
import { LIFECYCLE, deadLetterStream, loadCheckpoint, type FaultInfo } from './checkpoints.js';
import { loadShadow } from './shadow/stream.js';
import type { ProjectionState } from './types.js';

/**
 * A shadow read model being built beside the live one. `up-to-date`: it has every event the live
 * projection has (it never reads past it), `behind`: not yet, `faulted`: a handler threw.
 */
export interface ShadowStatus {
  version: number;
  position: number;
  lag: number;
  state: 'up-to-date' | 'behind' | 'faulted';
}

export interface StatusRow {
  name: string;
  version: number;
  position: number;
  lag: number;
  lagSeconds: number;
  state: ProjectionState;
  lastCheckpointAt: string | null;
  error: FaultInfo | null;
  healthy: boolean;
  /** Events in `$deadletter-<name>` (skipped with onError `skip`); that stream is never trimmed. */
  deadLetters: number;
  /** The process whose lease it is under now; null when none (or the lease ran out). */
  owner: Owner | null;
  /** Its shadow (rebuild --shadow), null when it has none. */
  shadow: ShadowStatus | null;
}

export interface Owner {
  pid: number;
  host: string;
  since: string;
  leaseExpiresAt: string;
}

/** Who holds what: read once for every row. */
export interface Holders {
  leases: readonly LeaseRow[];
  /** `run --follow` workers are registered (live heartbeats): then a projection nobody holds is a problem. */
  workersLive: number;
}

export interface StatusReport {
  head: number;
  /** `run --follow` workers with a live heartbeat. */
  workers: number;
  healthy: boolean;
  projections: StatusRow[];
}

export interface Thresholds {
  maxLag?: number;
  maxAgeMs?: number;
  now?: number;
}

interface Observed {
  version: number | null;
  faulted: boolean;
  lag: number;
  /** Handling again what a rebuild or replay-from took it back over, under a live lease. */
  rebuilding: boolean;
}

function stateOf(projection: Projection<unknown>, { version, faulted, lag, rebuilding }: Observed): ProjectionState {
  if (version === null) return 'never-run';
  if (version !== projection.version) return 'stale-version';
  if (faulted) return 'faulted';
  if (lag === 0) return 'up-to-date';
  // Without a holder it is a rebuild that stopped (killed): the next run goes on with it.
  return rebuilding ? 'rebuilding' : 'behind';
}

export async function projectionStatus(
  store: ProjectionStore,
  projection: Projection<unknown>,
  thresholds: Thresholds = {},
  holders: Holders = { leases: [], workersLive: 0 },
): Promise<StatusRow> {
  const checkpoint = await loadCheckpoint(store, projection.name);
  const pending = await store.pending({ after: checkpoint.position, resume: checkpoint.resume, types: projection.types });
  // Stream versions count from 1 and the stream is never trimmed: its last version is its size.
  const deadLetters = (await store.lastEvent(deadLetterStream(projection.name)))?.version ?? 0;
  const now = thresholds.now ?? Date.now();
  const lagSeconds = pending.count > 0 && pending.oldestRecordedAt ? Math.max(0, (now - Date.parse(pending.oldestRecordedAt)) / 1000) : 0;
  const lease = holders.leases.find((l) => l.name === projection.name && l.live);
  const state = stateOf(projection, {
    version: checkpoint.version,
    faulted: checkpoint.last?.type === LIFECYCLE.faulted,
    lag: pending.count,
    rebuilding: lease !== undefined && (checkpoint.replayingUntil > 0 || checkpoint.last?.type === LIFECYCLE.reset),
  });
  const owner = lease ? { pid: lease.owner.pid, host: lease.owner.host, since: lease.owner.since, leaseExpiresAt: lease.expiresAt } : null;
  // Where workers share the store, events waiting for a projection nobody holds wait for nothing.
  // Without workers (cron) nobody holds anything between runs, and that is normal.
  const orphaned = holders.workersLive > 0 && owner === null && pending.count > 0;
  const healthy =
    !orphaned &&
    state !== 'faulted' &&
    state !== 'stale-version' &&
    !(state === 'never-run' && pending.count > 0) &&
    !(thresholds.maxLag !== undefined && pending.count > thresholds.maxLag) &&
    !(thresholds.maxAgeMs !== undefined && lagSeconds * 1000 > thresholds.maxAgeMs);
  return {
    name: projection.name,
    version: projection.version,
    position: checkpoint.position,
    lag: pending.count,
    lagSeconds: Math.round(lagSeconds * 1000) / 1000,
    state,
    lastCheckpointAt: checkpoint.last?.recordedAt ?? null,
    error: state === 'faulted' ? checkpoint.fault : null,
    healthy,
    deadLetters,
    owner,
    shadow: await shadowStatus(store, projection, checkpoint.position),
  };
}

async function shadowStatus(store: ProjectionStore, projection: Projection<unknown>, livePosition: number): Promise<ShadowStatus | null> {
  const shadow = await loadShadow(store, projection.name);
  if (shadow === null) return null;
  const { count } = await store.pending({ after: shadow.position, resume: shadow.resume, types: projection.types });
  const state = shadow.fault ? 'faulted' : shadow.position >= livePosition ? 'up-to-date' : 'behind';
  return { version: shadow.version ?? projection.version, position: shadow.position, lag: count, state };
}

export async function status(
  store: ProjectionStore & LeaseStore & WorkerRegistry,
  projections: readonly Projection<unknown>[],
  thresholds: Thresholds = {},
): Promise<StatusReport> {
  const head = await store.head();
  const [leases, workers] = await Promise.all([store.leases(), store.liveWorkers()]);
  const holders: Holders = { leases, workersLive: workers.length };
  const rows: StatusRow[] = [];
  for (const projection of projections) rows.push(await projectionStatus(store, projection, thresholds, holders));
  return { head, workers: holders.workersLive, healthy: rows.every((row) => row.healthy), projections: rows };
}
