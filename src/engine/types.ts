import type { Fence } from '../ports/event-store.js';
import type { Publisher } from '../ports/publisher.js';
import type { Target } from '../ports/target.js';
import type { FaultInfo } from './checkpoints.js';

/** `rebuilding`: a process holds it and is handling again the events a rebuild or replay-from took it back over. */
export type ProjectionState = 'up-to-date' | 'behind' | 'rebuilding' | 'never-run' | 'faulted' | 'stale-version';

/**
 * How a run ended: a projection state, or `locked` when another process took its lease over (or it
 * ran out). For a projection that declares its tables, a file newer than the live version is
 * `awaiting-promotion` (its shadow is built beside it and promoted), one older than it `superseded`
 * (a newer version was promoted): neither runs it, and neither is a fault.
 */
export type RunState = ProjectionState | 'locked' | 'awaiting-promotion' | 'superseded';

/** What a run needs of the lease it works under: the fence its commits carry, a signal when it is lost. */
export interface RunLease {
  readonly fence: Fence;
  readonly signal: AbortSignal;
  lost(): boolean;
  ranOut(): boolean;
}

export interface Progress {
  name: string;
  /** Position reached so far. */
  position: number;
  /** Events handed to handlers so far in this run. */
  processed: number;
  /** Events this run expects to process in all, when it was asked to count them. */
  total: number | null;
}

/** Events per transaction when nobody says otherwise (the CLI and the library alike). */
export const DEFAULT_BATCH_SIZE = 1000;

export interface RunOptions {
  batchSize: number;
  /** Keep tailing the log after reaching the head. */
  follow?: boolean;
  /** Stops the run between batches; the batch under way commits first. */
  signal?: AbortSignal;
  /** Polling interval while idle in follow mode. */
  pollMs?: number;
  /** Count the events to process before starting (for progress with ETA). */
  countTotal?: boolean;
  onProgress?: (progress: Progress) => void;
  /** `stop` (default): a failing handler faults the projection. `skip`: dead-letter the event and go on. */
  onError?: 'stop' | 'skip';
  /** Opened targets by projection name: those projections keep their read model there (see delivery.ts). */
  targets?: ReadonlyMap<string, Target>;
  /** Told when an event is dead-lettered or a faulted projection gets past its event, as it happens. */
  onIncident?: (incident: Incident) => void;
  /** Opened publishers by projection name: those projections publish each batch before its checkpoint. */
  publishers?: ReadonlyMap<string, Publisher>;
  /**
   * The leases projections run under (cron locks, workers): each commit is fenced by its lease, and
   * a lost lease stops that projection's run (state `locked`) while the others go on. None: unchecked.
   */
  leases?: ReadonlyMap<string, RunLease>;
}

/**
 * What an operator should hear about while a run goes on (a fault ends the projection's run and is
 * its result). `fault` is the event's: the one dead-lettered, or the one the projection had faulted at.
 */
export type Incident =
  | { kind: 'dead-letter'; name: string; stream: string; fault: FaultInfo }
  | { kind: 'recovered'; name: string; position: number; fault: FaultInfo }
  /** A publishing projection's broker cannot be reached; it is retried, the checkpoint waits. */
  | { kind: 'broker-down'; name: string; message: string; retryInMs: number }
  | { kind: 'broker-back'; name: string }
  /**
   * A run without --follow stopped with events committed that it could not read yet: an older
   * transaction in the database still held them back (commit-order stores) when it gave up waiting.
   */
  | { kind: 'held-back'; name: string; pending: number; waitedMs: number };

export interface RunResult {
  name: string;
  from: number;
  to: number;
  processed: number;
  durationMs: number;
  /** The projection's state at the end; `behind` when the run was interrupted early, `locked` when its lease was lost. */
  state: RunState;
  error: FaultInfo | null;
  interrupted: boolean;
  /** Events moved to the dead-letter stream in this run (with onError `skip`). */
  deadLettered: number;
  /** The run built a shadow beside the live read model (rebuild --shadow). */
  shadow?: boolean;
  /** The live read model's version, when the file's differs (stale-version, awaiting-promotion, superseded). */
  liveVersion?: number;
}
