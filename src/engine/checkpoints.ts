import type { ExpectedVersion, StoredEvent } from '../core/events.js';
import type { AppendResult, CommitUnit, Fence, ProjectionStore, ResumeToken } from '../ports/event-store.js';
import { commitWithRetry } from './retry.js';

/**
 * The checkpoint stream (`$checkpoint-<name>`): where a projection stands, written as events of the
 * log. This file is the only writer. Every event carries `position` and `version` (the projection's
 * version that wrote it); the last one tells both. The format's rules live here: each append expects
 * the stream's version (a concurrent or foreign writer is refused, not overwritten), the stream is
 * trimmed to its last CHECKPOINT_KEEP events, a run's commits carry its lease's fence, and
 * `replayingUntil` marks the events a rebuild or replay-from is handling again.
 */
export const LIFECYCLE = {
  checkpoint: 'Checkpoint',
  faulted: 'Faulted',
  reset: 'RebuildStarted',
  replay: 'ReplayRequested',
} as const;

/** How many events a checkpoint stream keeps; the last one is never removed. */
export const CHECKPOINT_KEEP = 10;

export function checkpointStream(name: string): string {
  return `$checkpoint-${name}`;
}

export function deadLetterStream(name: string): string {
  return `$deadletter-${name}`;
}

export interface FaultInfo {
  message: string;
  position: number | null;
  eventId: string | null;
  type: string | null;
}

/** A fault that no single event caused (setup, reset, a lock): the event fields stay null. */
export function fault(message: string): FaultInfo {
  return { message, position: null, eventId: null, type: null };
}

export interface CheckpointState {
  /** Last position processed; 0 before the first event. */
  position: number;
  /** Where the store resumes reading (saved as `data.cursor`); absent, it starts after `position`. */
  resume: ResumeToken | undefined;
  /** Projection version the checkpoint was written by; null when the projection never ran. */
  version: number | null;
  /** Version of the checkpoint stream, for the next append's expected version (0: no stream). */
  streamVersion: number;
  last: StoredEvent | undefined;
  fault: FaultInfo | null;
  /**
   * Set by `rebuild` and `replay-from`: the highest position the projection had reached before.
   * Events at or below it are handled again (`context.replaying`); 0 when none is.
   */
  replayingUntil: number;
}

/** The data of a checkpoint-stream event: where it stands, and anything its type adds. */
export type CheckpointData = Record<string, unknown> & { position: number; resume?: ResumeToken | undefined };

/** A projection's checkpoint, from the last event of its stream (`streamId`: another stream of the same format, a shadow's). */
export async function loadCheckpoint(store: Pick<ProjectionStore, 'lastEvent'>, name: string, streamId = checkpointStream(name)): Promise<CheckpointState> {
  const last = await store.lastEvent(streamId);
  if (!last) return { position: 0, resume: undefined, version: null, streamVersion: 0, last, fault: null, replayingUntil: 0 };
  const { data } = last;
  const position = typeof data.position === 'number' ? data.position : 0;
  const until = data.replayingUntil;
  return {
    position,
    // The store's token, as it gave it: only the store reads it (a foreign shape is its to refuse).
    resume: (data.cursor ?? undefined) as ResumeToken | undefined,
    version: typeof data.version === 'number' ? data.version : null,
    streamVersion: last.version,
    last,
    fault: last.type === LIFECYCLE.faulted ? ((data.error as FaultInfo | undefined) ?? null) : null,
    replayingUntil: typeof until === 'number' && Number.isSafeInteger(until) && until > position ? until : 0,
  };
}

type Entry = Pick<CommitUnit, 'streamId' | 'expectedVersion' | 'event' | 'keep'>;

export interface AppendOptions {
  /**
   * The event moves the position back (a rebuild, a replay-from, their intents): the events up to
   * where the projection had been are replayed, so the mark covers them. A replay of a replay still
   * ends where the first one started from.
   */
  movesBack?: boolean;
}

/** One projection's checkpoint stream, loaded once and kept current by the appends made through it. */
export class CheckpointStream {
  readonly streamId: string;
  private constructor(
    readonly name: string,
    private readonly version: number,
    public state: CheckpointState,
    private readonly fence: Fence | undefined,
    streamId: string,
  ) {
    this.streamId = streamId;
  }

  /** The projection's checkpoint stream, or another of the same format (`streamId`: a shadow's). */
  static async load(
    store: Pick<ProjectionStore, 'lastEvent'>,
    projection: { name: string; version: number },
    fence?: Fence,
    streamId = checkpointStream(projection.name),
  ): Promise<CheckpointStream> {
    return new CheckpointStream(projection.name, projection.version, await loadCheckpoint(store, projection.name, streamId), fence, streamId);
  }

  get fences(): Fence[] {
    return this.fence ? [this.fence] : [];
  }

  private get expected(): ExpectedVersion {
    return this.state.streamVersion === 0 ? 'no-stream' : this.state.streamVersion;
  }

  /** The event of an append, as the format wants it (version, cursor, replay mark). */
  entry(type: string, data: CheckpointData, options: AppendOptions = {}): Entry {
    const { resume, ...rest } = data;
    const until = options.movesBack ? Math.max(this.state.position, this.state.replayingUntil) : this.state.replayingUntil;
    const mark = until > data.position ? { replayingUntil: until } : {};
    const cursor = resume === undefined ? {} : { cursor: resume };
    return {
      streamId: this.streamId,
      expectedVersion: this.expected,
      event: { type, data: { version: this.version, ...rest, ...cursor, ...mark } },
      keep: CHECKPOINT_KEEP,
    };
  }

  /** A whole commit unit: this stream's event, its fence, and what commits with it. */
  unit<Db>(type: string, data: CheckpointData, extra: Pick<CommitUnit<Db>, 'apply' | 'also'> & AppendOptions = {}): CommitUnit<Db> {
    const { movesBack, ...rest } = extra;
    return { ...this.entry(type, data, { movesBack }), ...rest, ...(this.fence ? { fences: [this.fence] } : {}) };
  }

  /** After a commit of an entry of this stream: the next append expects the version it made. */
  committed(data: CheckpointData, appended?: Pick<AppendResult, 'version'>): void {
    const streamVersion = appended?.version ?? this.state.streamVersion + 1;
    this.state = { ...this.state, streamVersion, position: data.position, resume: data.resume };
  }

  /** Appends one event on its own (with `apply`, in the same transaction), retried when transient. */
  async append<Db>(
    store: ProjectionStore<Db>,
    type: string,
    data: CheckpointData,
    extra: Pick<CommitUnit<Db>, 'apply'> & AppendOptions = {},
  ): Promise<AppendResult> {
    const appended = await commitWithRetry(store, this.unit(type, data, extra));
    this.committed(data, appended);
    return appended;
  }
}
