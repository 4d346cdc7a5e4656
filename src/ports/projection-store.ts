import type { ExpectedVersion, NewEvent, StoredEvent } from '../core/events.js';
import type { AppendResult } from './event-log.js';
import type { Fence } from './leases.js';

declare const resumeToken: unique symbol;

/**
 * Where a projection's next read starts, as the store encodes it (for a store that reads in commit
 * order: a transaction and a position within it). The engine saves it with the checkpoint and hands
 * it back, and never looks inside; a store that needs none gives none, and starts after the position.
 */
export type ResumeToken = { readonly [resumeToken]: true };

/** Where a projection stands in the log: the position it shows, and the store's token, if any. */
export interface ReadPoint {
  /** Events at or below it are done; 0 before the first event. */
  after: number;
  /** Absent before the first batch and after a replay-from: the store starts before `after + 1`. */
  resume?: ResumeToken | undefined;
}

export interface BatchQuery extends ReadPoint {
  /** Only these types; null for every type. System streams are never returned. */
  types: readonly string[] | null;
  limit: number;
  /**
   * Stop taking events once their data and metadata (bytes as stored) reach this many; the first
   * event is always taken. Default DEFAULT_BATCH_BYTES. A batch stopped by it counts as full.
   */
  maxBytes?: number;
  /**
   * Read nothing past this point (in the store's read order): a shadow never reads further than the
   * live projection has. The batch then ends there, and `scannedTo` never passes `until.after`.
   */
  until?: ReadPoint;
}

export interface Batch {
  events: StoredEvent[];
  /**
   * How far the read looked: the last event's position when the batch is full, otherwise the head
   * as it was in the same snapshot. A projection may checkpoint here even when it skipped events.
   */
  scannedTo: number;
  /** Where the next batch starts, saved with the checkpoint (stores that need a token). */
  resume?: ResumeToken | undefined;
  /** Where a read resumes just past `events[index]`, for a checkpoint taken at that event. */
  resumeAfter(index: number): ResumeToken | undefined;
}

export interface PendingQuery extends ReadPoint {
  types: readonly string[] | null;
  /** Only events at or below this position. */
  upTo?: number;
}

export interface Pending {
  count: number;
  oldestRecordedAt: string | null;
}

/**
 * One atomic unit: read-model writes (`apply`), then one event appended to a stream with an expected
 * version, then the stream trimmed to its last `keep` events. All of it commits or none of it does.
 */
export interface CommitUnit<Db = unknown> {
  apply?: (db: Db) => void | Promise<void>;
  streamId: string;
  expectedVersion: ExpectedVersion;
  event: NewEvent;
  keep?: number;
  /**
   * Further events appended in the same transaction: dead letters (no version check), or the
   * checkpoints of other projections run in the same pass (with their expected versions).
   */
  also?: { streamId: string; event: NewEvent; expectedVersion?: ExpectedVersion; keep?: number }[];
  /**
   * Leases the committer must still hold: a lease taken over since (another owner or a newer token)
   * refuses the whole unit (LOCKED, `details.fenced`), so a holder that lost its lease while paused
   * commits nothing.
   */
  fences?: readonly Fence[];
}

/** What the engine needs of a store to run projections in it: batches in the store's read order, and atomic commits. */
export interface ProjectionStore<Db = unknown> {
  /** The database handed to projection handlers. */
  readonly readModel: Db;
  /** True when handlers must be synchronous: the batch transaction cannot span an await. */
  readonly synchronous: boolean;
  isTransient(error: unknown): boolean;
  readBatch(query: BatchQuery): Promise<Batch>;
  /**
   * The events a projection at `query` has still to read. Counts committed events a reader cannot
   * see yet too (on a store that reads in commit order, an older transaction still open holds them back).
   */
  pending(query: PendingQuery): Promise<Pending>;
  commit(unit: CommitUnit<Db>): Promise<AppendResult>;
  lastEvent(streamId: string): Promise<StoredEvent | undefined>;
  head(): Promise<number>;
  /**
   * Resolves when events may have been appended: a store that hears of appends (LISTEN) may wait up
   * to its own fallback; one that cannot polls, and resolves after `pollMs`. At once on `signal`.
   */
  waitForAppend(pollMs: number, signal?: AbortSignal): Promise<void>;
  /**
   * How long a batch loop should wait before its next write transaction, so writers of other
   * processes get a single write lock in between (SQLite); 0 where writers do not queue so.
   */
  writerPauseMs(): number;
}
