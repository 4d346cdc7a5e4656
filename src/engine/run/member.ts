import { EsError, errorMessage, isEsError } from '../../core/errors.js';
import type { StoredEvent } from '../../core/events.js';
import type { Projection } from '../../core/projection.js';
import type { CommitUnit, ProjectionStore, ReadPoint, ResumeToken } from '../../ports/event-store.js';
import type { MakeApply } from '../delivery/index.js';
import type { Publisher } from '../../ports/publisher.js';
import { BatchFailure, applier, locateFailure } from '../apply.js';
import { CheckpointStream, fault, type CheckpointData, type FaultInfo } from '../checkpoints.js';
import { deliveryFor, type Delivery } from '../delivery/index.js';
import { storeProbe } from '../delivery/probe.js';
import { lostLeaseMessage } from '../lease.js';
import { idleResult } from '../results.js';
import type { RunLease, RunOptions, RunResult, RunState } from '../types.js';

/** A projection that publishes nothing: every event counts as acknowledged at once. */
const NOTHING_TO_PUBLISH: Publisher = {
  publish: async (events) => ({ acked: events.length }),
  close: async () => {},
};

/**
 * A commit refused because another process took the projection over: its lease (a fenced commit),
 * or its checkpoint (moved meanwhile). The run stops and says so; nothing more of it was committed.
 */
export function isLeaseLoss(error: unknown): error is EsError {
  return isEsError(error) && error.code === 'LOCKED' && (error.details?.fenced === true || error.details?.moved === true);
}

function lostCheckpoint(name: string, error: unknown): unknown {
  if ((error as { code?: unknown }).code !== 'CONFLICT') return error;
  return new EsError('LOCKED', `the checkpoint of "${name}" was moved by another process; this run stopped`, {
    cause: error,
    details: { moved: true, projection: name },
  });
}

/**
 * A checkpoint written by another version than the file's. A projection that declares its tables can
 * be rebuilt beside the live one and promoted: a newer file waits for that promotion, an older one
 * stands down for the version promoted. Otherwise the file's version needs a rebuild.
 */
function versionState(projection: Pick<Projection, 'tables' | 'version'>, live: number): RunState {
  if (projection.tables === null) return 'stale-version';
  return live > projection.version ? 'superseded' : 'awaiting-promotion';
}

export function faultOf(event: StoredEvent, error: unknown): FaultInfo {
  return { message: errorMessage(error), position: event.position, eventId: event.id, type: event.type };
}

/**
 * Another course for a projection's run than its live read model: a copy built beside it (a shadow).
 * Its own checkpoint stream and delivery, no broker, every event handled as a replay (the live
 * version has handled it already), and nothing read past where the live projection stands.
 */
export interface Lane {
  streamId: string;
  delivery(makeApply: MakeApply<unknown>): Delivery;
  /** The furthest point it may read: the live projection's. */
  until(): Promise<ReadPoint>;
}

/**
 * One projection in a run: where it stands, how its batches reach its read model (and broker), and
 * what it did so far. Its position only moves forward through `advance`, after a commit.
 */
export class Member<Db = unknown> {
  readonly started = performance.now();
  readonly from: number;
  /** Where it stands: the committed checkpoint, or further where nothing of its was left to commit. */
  point: ReadPoint;
  processed = 0;
  deadLettered = 0;
  /** The fault this run starts from, until the projection gets past its event. */
  private faultedAt: FaultInfo | null;

  private constructor(
    readonly store: ProjectionStore<Db>,
    readonly projection: Projection<Db>,
    readonly stream: CheckpointStream,
    readonly delivery: Delivery,
    readonly publisher: Publisher,
    readonly lease: RunLease | undefined,
    private readonly options: RunOptions,
    readonly lane: Lane | undefined,
  ) {
    const { state } = stream;
    this.from = state.position;
    this.point = { after: state.position, resume: state.resume };
    this.faultedAt = state.fault;
  }

  /**
   * Gets a projection ready to run: finishes a target's interrupted rebuild, loads its checkpoint,
   * refuses a stale version, and calls its setup. A result instead when it cannot run.
   */
  static async start<Db>(store: ProjectionStore<Db>, projection: Projection<Db>, options: RunOptions, lane?: Lane): Promise<Member<Db> | RunResult> {
    const { name } = projection;
    const lease = options.leases?.get(name);
    // Events up to where a rebuild or replay-from had been are replayed (context.replaying); the
    // stream is loaded below, before any batch is applied. A lane's are all replays.
    const makeApply = (events: readonly StoredEvent[], sink: Parameters<typeof applier>[0]) =>
      applier(sink, projection as Projection<unknown>, events, lane ? Infinity : stream.state.replayingUntil);
    const delivery = lane ? lane.delivery(makeApply) : deliveryFor(store, projection, options.targets?.get(name), makeApply, lease?.fence);
    const unfinished = await delivery.resume();
    const stream = await CheckpointStream.load(store, projection, lease?.fence, lane?.streamId);
    const { position, version } = stream.state;
    if (unfinished) return idleResult(name, position, 'faulted', { error: unfinished });
    if (version !== null && version !== projection.version) return idleResult(name, position, versionState(projection, version), { liveVersion: version });
    try {
      await delivery.setup(position);
    } catch (error) {
      // A target that stayed unreachable through the retries is the environment's failure (exit 3,
      // and a follower tries again later), not a fault of the projection's code.
      if (isEsError(error) && error.code === 'ENVIRONMENT') throw error;
      return idleResult(name, position, 'faulted', { error: fault(`setup failed: ${errorMessage(error)}`) });
    }
    const publisher = (lane ? undefined : options.publishers?.get(name)) ?? NOTHING_TO_PUBLISH;
    return new Member(store, projection, stream, delivery, publisher, lease, options, lane);
  }

  get name(): string {
    return this.projection.name;
  }

  /** The run's stop signal joined with its lease's. */
  get signal(): AbortSignal | undefined {
    const signals = [this.options.signal, this.lease?.signal].filter((s): s is AbortSignal => s !== undefined);
    return signals.length <= 1 ? signals[0] : AbortSignal.any(signals);
  }

  get replayingUntil(): number {
    return this.lane ? Infinity : this.stream.state.replayingUntil;
  }

  /**
   * Commits `events` to the read model with a checkpoint-stream event, in one unit. A set-based
   * batch that threw is narrowed down to its event (HandlerFailure); a checkpoint moved by another
   * process is a lost lease.
   */
  async commit(events: readonly StoredEvent[], type: string, data: CheckpointData, also?: CommitUnit['also']): Promise<void> {
    const appended = await this.delivery.commit(events, this.stream.unit(type, data, { also })).catch(async (error: unknown) => {
      if (error instanceof BatchFailure) {
        const applyOf = (part: readonly StoredEvent[]) => applier(this.store, this.projection, part, this.replayingUntil);
        throw await locateFailure(error, applyOf, events, storeProbe(this.store, this.stream.streamId));
      }
      throw lostCheckpoint(this.name, error);
    });
    this.stream.committed(data, appended);
    // A target drops events it had handled already (a redelivery): they were not handed to handlers.
    this.processed -= appended.duplicates ?? 0;
  }

  /** After a commit (or an empty read that moved the store's token): where it stands now, and what it handled. */
  advance(after: number, resume: ResumeToken | undefined, handled: number): void {
    this.point = { after: Math.max(this.point.after, after), resume: resume ?? this.point.resume };
    this.processed += handled;
    const { faultedAt } = this;
    if (faultedAt === null || this.point.after < (faultedAt.position ?? this.point.after)) return;
    this.options.onIncident?.({ kind: 'recovered', name: this.name, position: this.point.after, fault: faultedAt });
    this.faultedAt = null;
  }

  result(state: RunState, extra: Partial<RunResult> = {}): RunResult {
    return {
      ...idleResult(this.name, this.from, state),
      to: this.point.after,
      processed: this.processed,
      durationMs: Math.round(performance.now() - this.started),
      deadLettered: this.deadLettered,
      ...extra,
    };
  }

  /** Stopped early: by the run's signal, or by its lease lost (`locked`, with why). */
  interrupted(state: 'up-to-date' | 'behind'): RunResult {
    if (this.lease?.lost()) {
      return this.result('locked', { interrupted: true, error: fault(lostLeaseMessage(this.name, this.lease.ranOut())) });
    }
    return this.result(state, { interrupted: true });
  }

  /** A commit was refused by a lease or checkpoint taken over: nothing more was committed. */
  lostTo(error: EsError): RunResult {
    return this.result('locked', { interrupted: true, error: fault(error.message) });
  }
}
