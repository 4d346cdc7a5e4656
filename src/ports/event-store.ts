import type { ExpectedVersion, NewEvent, NewStreamEvent, StoredEvent } from '../core/events.js';

export interface AppendResult {
  /** Position of the last event appended. */
  position: number;
  /** Stream version after the append. */
  version: number;
}

export interface AppendOptions {
  /**
   * PostgreSQL: a node-postgres client inside the caller's open transaction (the transactional
   * outbox). The events appear when the caller commits and vanish if it rolls back.
   */
  client?: unknown;
}

export interface ReadOptions {
  /** Only this stream (system streams included when named). */
  streamId?: string;
  /** First position to return (inclusive). */
  from?: number;
  limit?: number;
  includeSystem?: boolean;
}

export interface BatchQuery {
  /** Events strictly after this position. */
  after: number;
  /**
   * Stores that read in commit order (PostgreSQL): where the last batch stopped, as it returned it.
   * Absent before the first batch and after a replay-from: the store then starts before `after + 1`.
   */
  cursor?: Cursor;
  /** Only these types; null for every type. System streams are never returned. */
  types: readonly string[] | null;
  limit: number;
  /**
   * Stop taking events once their data and metadata (bytes as stored) reach this many; the first
   * event is always taken. Default DEFAULT_BATCH_BYTES. A batch stopped by it counts as full.
   */
  maxBytes?: number;
}

/**
 * A place in commit order, for stores whose positions are drawn before their transactions commit
 * (PostgreSQL): the writer's transaction id and the position within it. Opaque to the engine,
 * which saves it in the checkpoint's `data.cursor` and hands it back.
 */
export interface Cursor {
  transactionId: string;
  position: number;
}

export interface Batch {
  events: StoredEvent[];
  /**
   * How far the read looked: the last event's position when the batch is full, otherwise the head
   * as it was in the same snapshot. A projection may checkpoint here even when it skipped events.
   */
  scannedTo: number;
  /** Stores that read in commit order: where the next batch starts, saved with the checkpoint. */
  cursor?: Cursor;
  /** With `cursor`: the cursor just past each event, for a checkpoint taken at that event. */
  cursors?: Cursor[];
}

export interface Pending {
  count: number;
  oldestRecordedAt: string | null;
}

export interface ImportResult {
  appended: number;
  skipped: number;
  lastPosition: number | null;
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
   * Leases the committer must still hold: each is checked inside the transaction, before anything is
   * written and again at its commit, and a lease taken over since (another owner or a newer token)
   * refuses the whole unit (LOCKED, `details.fenced`), so a holder that lost its lease while paused
   * commits nothing.
   */
  fences?: readonly Fence[];
}

/** A lease as its holder took it: the token grows at every acquisition of the projection's lock. */
export interface Fence {
  name: string;
  ownerId: string;
  token: number;
  /**
   * The lease's length: a store may end a fenced transaction that sits idle this long (its holder
   * paused or cut off), so that it holds nothing the next holder needs for longer than the lease.
   */
  leaseMs?: number;
}

/** tryLease's answer: the lease and its fencing token, or the live holder that kept it. */
export type LeaseAttempt = { taken: true; token: number } | { taken: false; holder: LockOwner };

/** A lock row as status and workers see it. */
export interface LeaseRow {
  name: string;
  owner: LockOwner;
  token: number;
  /** When the lease runs out (ISO-8601, by the store's clock). */
  expiresAt: string;
  /** The lease has not run out yet (by the store's clock). */
  live: boolean;
}

/** A `run --follow` process that shares a store's projections with others; live while it beats. */
export interface WorkerRow {
  id: string;
  pid: number;
  host: string;
  since: string;
  expiresAt: string;
}

/** Who holds a projection's lock: shown to a second runner that is refused. */
export interface LockOwner {
  id: string;
  pid: number;
  host: string;
  since: string;
  /** The holder's PID namespace and boot id: its pid is only checked where both match ours. */
  pidNamespace?: string | null;
  bootId?: string | null;
}

/** The port the engine depends on; each backend implements it. */
export interface EventStore<Db = unknown> {
  readonly url: string;
  /** The database handed to projection handlers. */
  readonly readModel: Db;
  /** True when handlers must be synchronous: the batch transaction cannot span an await. */
  readonly synchronous: boolean;
  /**
   * True when reads follow commit order (PostgreSQL): committed events stay unreadable while an
   * older transaction is still open anywhere in the database, so "nothing to read" is not "nothing
   * pending"; `pending` still counts them.
   */
  readonly commitOrder?: boolean;
  /** A busy or locked database: worth retrying, not a fault. */
  isTransient(error: unknown): boolean;
  append(streamId: string, events: NewEvent[], expectedVersion?: ExpectedVersion, options?: AppendOptions): Promise<AppendResult>;
  /**
   * Appends events of many streams in one transaction, all or nothing; ids already stored (or seen
   * earlier in the same call) are skipped when identical and refused when they differ (USAGE, with
   * `details.index`, the event's index over all chunks, and `details.event`, the object given).
   * The chunks are awaited inside the transaction, so an input of any size is appended with memory
   * bounded by one chunk: SQLite holds `BEGIN IMMEDIATE` across the awaits on its one connection, an
   * async store keeps BEGIN … COMMIT open on one client. A chunk source that throws, or any error,
   * rolls everything back; other connections see nothing of it before the commit. Other writes
   * through the same store object are refused while it runs (they would join its transaction).
   */
  importEvents<E extends NewStreamEvent>(chunks: AsyncIterable<readonly E[]> | Iterable<readonly E[]>): Promise<ImportResult>;
  /** `importEvents` of one array. */
  appendMany(events: readonly NewStreamEvent[]): Promise<ImportResult>;
  /** Every matching event at once: for small reads (one stream, a limit). */
  read(options: ReadOptions): Promise<StoredEvent[]>;
  /**
   * The same events, a page of at most `pageSize` at a time, each page read when the caller asks for
   * it (keyset on position, or version within a stream), so memory stays flat with the log's size
   * and a caller that stops early reads no further. A page also stops once its events' data and
   * metadata reach `maxBytes` (default DEFAULT_BATCH_BYTES; always one event at least). Stops at
   * the first page cut short by neither bound. An event larger than the process can load is refused
   * (ENVIRONMENT) before its data is fetched, by this and by readBatch.
   */
  readPages(options: ReadOptions, pageSize: number, maxBytes?: number): AsyncIterable<StoredEvent[]>;
  readBatch(query: BatchQuery): Promise<Batch>;
  lastEvent(streamId: string): Promise<StoredEvent | undefined>;
  /** Position of the last event outside system streams (0 when there is none). */
  head(): Promise<number>;
  /** With `upTo` (stores with a cursor): only pending events at or below that position. */
  pending(after: number, types: readonly string[] | null, cursor?: Cursor, upTo?: number): Promise<Pending>;
  commit(unit: CommitUnit<Db>): Promise<AppendResult>;
  /**
   * Takes the named lock unless a live holder has it. A holder whose lease (ttlMs since its last
   * renewal) ran out, or that `isDead` says has died, is replaced. Returns null when taken, else the holder.
   */
  tryLock(name: string, owner: LockOwner, ttlMs: number, isDead: (holder: LockOwner) => boolean): Promise<LockOwner | null>;
  /** tryLock that also returns the fencing token of the lease taken. */
  tryLease(name: string, owner: LockOwner, ttlMs: number, isDead: (holder: LockOwner) => boolean): Promise<LeaseAttempt>;
  /** Extends the lease; false when the lock is no longer this owner's (or, with `token`, this lease's). */
  renewLock(name: string, ownerId: string, ttlMs: number, token?: number): Promise<boolean>;
  /** Lets the lock go (the row stays, so the next token is still larger). */
  releaseLock(name: string, ownerId: string, token?: number): Promise<void>;
  /** Every held lock row (expired ones too, marked `live: false`). */
  leases(): Promise<LeaseRow[]>;
  /** Registers or refreshes a worker: live for `ttlMs` from now. */
  heartbeat(worker: Omit<WorkerRow, 'expiresAt'>, ttlMs: number): Promise<void>;
  /** The workers whose heartbeat has not run out. */
  liveWorkers(): Promise<WorkerRow[]>;
  /** Unregisters a worker (it stops). */
  leaveWorker(id: string): Promise<void>;
  /** Resolves when events may have been appended, or after `ms`; stores without notifications omit it. */
  waitForAppend?(ms: number, signal?: AbortSignal): Promise<void>;
  /**
   * How long a batch loop should wait before its next write transaction, so writers of other
   * processes get the store's one write lock in between (SQLite); stores without one omit it.
   */
  writerPauseMs?(): number;
  close(): Promise<void>;
}
