import type { Projection } from '../core/projection.js';
import type { EventStore } from '../ports/event-store.js';
import { LIFECYCLE, deadLetterStream, loadCheckpoint, type FaultInfo } from './checkpoint.js';
import type { ProjectionState } from './types.js';

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
}

export interface StatusReport {
  head: number;
  healthy: boolean;
  projections: StatusRow[];
}

export interface Thresholds {
  maxLag?: number;
  maxAgeMs?: number;
  now?: number;
}

function stateOf(version: number | null, projection: Projection<unknown>, faulted: boolean, lag: number): ProjectionState {
  if (version === null) return 'never-run';
  if (version !== projection.version) return 'stale-version';
  if (faulted) return 'faulted';
  return lag === 0 ? 'up-to-date' : 'behind';
}

export async function projectionStatus(
  store: EventStore<unknown>,
  projection: Projection<unknown>,
  thresholds: Thresholds = {},
): Promise<StatusRow> {
  const checkpoint = await loadCheckpoint(store, projection.name);
  const pending = await store.pending(checkpoint.position, projection.types, checkpoint.cursor);
  // Stream versions count from 1 and the stream is never trimmed: its last version is its size.
  const deadLetters = (await store.lastEvent(deadLetterStream(projection.name)))?.version ?? 0;
  const now = thresholds.now ?? Date.now();
  const lagSeconds =
    pending.count > 0 && pending.oldestRecordedAt
      ? Math.max(0, (now - Date.parse(pending.oldestRecordedAt)) / 1000)
      : 0;
  const state = stateOf(checkpoint.version, projection, checkpoint.last?.type === LIFECYCLE.faulted, pending.count);
  const healthy =
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
  };
}

export async function status(
  store: EventStore<unknown>,
  projections: readonly Projection<unknown>[],
  thresholds: Thresholds = {},
): Promise<StatusReport> {
  const head = await store.head();
  const rows: StatusRow[] = [];
  for (const projection of projections) rows.push(await projectionStatus(store, projection, thresholds));
  return { head, healthy: rows.every((row) => row.healthy), projections: rows };
}
