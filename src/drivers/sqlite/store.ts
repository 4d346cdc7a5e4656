import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { createRequire } from 'node:module';
import type { default as SqliteConstructor, Database } from 'better-sqlite3';
import { EsError, environment } from '../../core/errors.js';
import { checkNames, type ExpectedVersion, type NewEvent, type NewStreamEvent, type StoredEvent } from '../../core/events.js';
import type {
  ShadowSlot,
  ShadowSpace,
  AppendOptions,
  AppendResult,
  Batch,
  BatchQuery,
  CommitUnit,
  EventStore,
  ImportResult,
  LeaseAttempt,
  LeaseRow,
  LockOwner,
  Pending,
  PendingQuery,
  WorkerRow,
  ReadOptions,
} from '../../ports/event-store.js';
import { sleep } from '../../core/sleep.js';
import { prepareAppend } from './append.js';
import { checkExpectedVersion } from '../../core/events.js';
import { checkStoreFile, createStoreFile, openError } from './files.js';
import { prepareImport, startImport } from './import.js';
import { prepareHead, prepareLastEvent, prepareRead } from './read.js';
import { preparePending } from './pending.js';
import { sqliteShadowSpace } from './shadow.js';
import { prepareReadBatch } from './read-batch.js';
import { ensureSchema } from './schema.js';
import { prepareTrim } from './trim.js';
import { prepareLocks } from './locks.js';
import { prepareWorkers } from './workers.js';
import { hasLockIdentityColumns } from './lock-identity.js';
import { withStatementCache } from './statement-cache.js';
import { beginImmediate, sleepSync, Writer } from './write-lock.js';
import { isBusy, isBusyOrLocked, isReadOnly } from './errors.js';

// better-sqlite3 is CommonJS: required directly, it skips the ES module loader's scan of its source
// for named exports, a few milliseconds of every command's start.
const Sqlite = createRequire(import.meta.url)('better-sqlite3') as typeof SqliteConstructor;

/** How long a write waits for another process's write lock before giving up. */
export const BUSY_TIMEOUT_MS = 30_000;

export interface SqliteOpenOptions {
  /** Create the file and schema when missing (commands that add events). */
  create?: boolean;
  /** How long a write waits for another writer's lock before SQLITE_BUSY. */
  busyTimeoutMs?: number;
}

/**
 * Switches the file to WAL (a persistent setting, so usually a no-op). The switch needs the file to
 * itself and can fail with SQLITE_BUSY at once, without the busy handler, while another process
 * reads it (many first writers at once): retried here up to the busy timeout.
 */
function useWal(db: Database, timeoutMs: number): void {
  const mode = () => String(db.pragma('journal_mode', { simple: true })).toLowerCase();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (mode() === 'wal' || String(db.pragma('journal_mode = WAL', { simple: true })).toLowerCase() === 'wal') return;
    } catch (error) {
      if (!isBusy(error)) throw error;
    }
    if (Date.now() >= deadline)
      throw new EsError('LOCKED', `${db.name}: the event store is busy: another process kept it past the busy timeout; try again later`);
    sleepSync(5 + Math.random() * 20);
  }
}

function openDatabase(path: string, options: SqliteOpenOptions): Database {
  const exists = existsSync(path);
  if (!exists && !options.create) {
    throw environment(`no event store at ${path}: check --db, or create one with \`es append\`, \`es import\` or \`es demo\``);
  }
  if (exists) checkStoreFile(path, options.create ?? false);
  else createStoreFile(path);
  let db: Database;
  try {
    db = new Sqlite(path, { timeout: options.busyTimeoutMs ?? BUSY_TIMEOUT_MS });
  } catch (error) {
    throw openError(path, error);
  }
  try {
    // Recognise the file first: a mistyped --db must not switch someone else's database to WAL.
    ensureSchema(db, path, options.create ?? false);
    useWal(db, options.busyTimeoutMs ?? BUSY_TIMEOUT_MS);
    // Durable by default: a commit returns once its WAL frames are on disk. Only projection
    // batches opt out (see relaxed()), so a write path added later is safe without thinking of it.
    db.pragma('synchronous = FULL');
    // A rebuild rewrites the same read-model pages batch after batch: checkpointing the WAL every
    // 10,000 pages (about 40 MB) instead of SQLite's 1,000 copies each page once, not ten times.
    db.pragma('wal_autocheckpoint = 10000');
  } catch (error) {
    db.close();
    if (error instanceof EsError) throw error;
    throw openError(path, error);
  }
  return db;
}

/** Statements are prepared on first use: a command that reads two things should not compile twenty. */
function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

export class SqliteEventStore implements EventStore<Database> {
  readonly url: string;
  /** The store's connection, as handed to projections (prepare cached). */
  readonly readModel: Database;
  private readonly raw: Database;
  /** better-sqlite3 transactions cannot span an await: handlers must be synchronous. */
  readonly synchronous = true;
  private readonly appendOps: () => ReturnType<typeof prepareAppend>;
  private readonly trimOp: () => ReturnType<typeof prepareTrim>;
  private readonly readOp: () => ReturnType<typeof prepareRead>;
  private readonly readBatchOp: () => ReturnType<typeof prepareReadBatch>;
  private readonly lastEventOp: () => ReturnType<typeof prepareLastEvent>;
  private readonly headOp: () => ReturnType<typeof prepareHead>;
  private readonly pendingOp: () => ReturnType<typeof preparePending>;
  private readonly importOp: () => ReturnType<typeof prepareImport>;
  private readonly locks: () => ReturnType<typeof prepareLocks>;
  private readonly workers: () => ReturnType<typeof prepareWorkers>;
  private readonly busyTimeoutMs: number;
  private readonly writer: Writer;

  constructor(
    readonly path: string,
    options: SqliteOpenOptions = {},
  ) {
    this.url = `sqlite:${path}`;
    const db = openDatabase(resolve(path), options);
    this.raw = db;
    this.busyTimeoutMs = options.busyTimeoutMs ?? BUSY_TIMEOUT_MS;
    this.writer = new Writer(db, this.busyTimeoutMs);
    this.readModel = withStatementCache(db);
    this.appendOps = lazy(() => prepareAppend(db));
    this.trimOp = lazy(() => prepareTrim(db));
    this.readOp = lazy(() => prepareRead(db));
    this.readBatchOp = lazy(() => prepareReadBatch(db));
    this.lastEventOp = lazy(() => prepareLastEvent(db));
    this.headOp = lazy(() => prepareHead(db));
    this.pendingOp = lazy(() => preparePending(db));
    this.importOp = lazy(() => prepareImport(db, this.appendOps()));
    this.locks = lazy(() => {
      // A read-only store of an older es could not be upgraded on open; taking a lock writes anyway.
      if (!hasLockIdentityColumns(db)) throw this.readOnly();
      return prepareLocks(db);
    });
    this.workers = lazy(() => prepareWorkers(db));
  }

  shadowSpace(name: string, slot: ShadowSlot): ShadowSpace<Database> {
    return sqliteShadowSpace({ path: resolve(this.path), db: this.raw, commit: (unit) => this.commit(unit) }, name, slot);
  }

  /** Running a projection writes (its lock, its checkpoints): said once, where the lock is taken. */
  private readOnly(cause?: unknown): EsError {
    return environment(`${this.path}: the store file is read-only, so no projection can be run on it`, cause);
  }

  isTransient(error: unknown): boolean {
    return isBusyOrLocked(error);
  }

  get db(): Database {
    return this.raw;
  }

  appendSync(streamId: string, events: readonly NewEvent[], expected: ExpectedVersion = 'any'): AppendResult {
    for (const event of events) checkNames(streamId, event.type, event.id);
    this.notImporting();
    return this.writer.run(() => {
      const current = this.appendOps().version(streamId);
      checkExpectedVersion(streamId, current, expected);
      return this.appendOps().insert(streamId, current, events);
    });
  }

  /** See Writer.pauseMs: a batch loop's turn to let writers of other processes in. */
  writerPauseMs(): number {
    return this.writer.pauseMs();
  }

  async append(streamId: string, events: NewEvent[], expected: ExpectedVersion = 'any', options: AppendOptions = {}): Promise<AppendResult> {
    if (options.client !== undefined) {
      throw new EsError('USAGE', 'append(…, { client }) is for the PostgreSQL store; on SQLite, write your rows and events through the store itself');
    }
    return this.appendSync(streamId, events, expected);
  }

  /** While an import holds the transaction open across awaits, other writes would silently join it. */
  private importing = false;

  private notImporting(): void {
    if (this.importing) throw new EsError('USAGE', 'this store is importing: wait for importEvents() to finish before writing');
  }

  async importEvents<E extends NewStreamEvent>(chunks: AsyncIterable<readonly E[]> | Iterable<readonly E[]>): Promise<ImportResult> {
    this.notImporting();
    const add = this.importOp();
    this.importing = true;
    try {
      beginImmediate(this.raw, this.busyTimeoutMs);
      try {
        const state = startImport();
        for await (const chunk of chunks) add(state, chunk);
        this.raw.exec('COMMIT');
        return { appended: state.appended, skipped: state.skipped, lastPosition: state.lastPosition };
      } catch (error) {
        if (this.raw.inTransaction) this.raw.exec('ROLLBACK');
        throw error;
      }
    } finally {
      this.importing = false;
    }
  }

  async appendMany(events: readonly NewStreamEvent[]): Promise<ImportResult> {
    return this.importEvents([events]);
  }

  async read(options: ReadOptions): Promise<StoredEvent[]> {
    return this.readOp().read(options);
  }

  readPages(options: ReadOptions, pageSize: number, maxBytes?: number): AsyncIterable<StoredEvent[]> {
    return this.readOp().pages(options, pageSize, maxBytes);
  }

  async readBatch(query: BatchQuery): Promise<Batch> {
    return this.readBatchOp()(query);
  }

  async lastEvent(streamId: string): Promise<StoredEvent | undefined> {
    return this.lastEventOp()(streamId);
  }

  async head(): Promise<number> {
    return this.headOp()();
  }

  async pending(query: PendingQuery): Promise<Pending> {
    return this.pendingOp()(query.after, query.types, query.upTo);
  }

  /** No notifications between processes here: a follower polls. */
  waitForAppend(pollMs: number, signal?: AbortSignal): Promise<void> {
    return sleep(pollMs, signal);
  }

  /**
   * Runs a transaction under synchronous=NORMAL: its commit may be lost on power failure, but only
   * with every later commit (WAL frames are replayed in order up to the first missing one). A
   * projection batch and its checkpoint vanish together and are simply replayed; the next durable
   * append syncs them anyway. WAL mode lets the level change per connection between transactions.
   */
  private relaxed<T>(work: () => T): T {
    if (this.raw.inTransaction) return work();
    this.raw.pragma('synchronous = NORMAL');
    try {
      return work();
    } finally {
      this.raw.pragma('synchronous = FULL');
    }
  }

  commitSync(unit: CommitUnit<Database>): AppendResult {
    this.notImporting();
    return this.relaxed(() => this.commitNow(unit));
  }

  private commitNow(unit: CommitUnit<Database>): AppendResult {
    return this.writer.run(() => {
      // The leases first: a holder that lost one while paused writes nothing at all.
      if (unit.fences && unit.fences.length > 0) this.locks().checkFences(unit.fences);
      // The expected version first: a retry of a commit that did land must conflict, not run its
      // handlers a second time over their own writes.
      const current = this.appendOps().version(unit.streamId);
      checkExpectedVersion(unit.streamId, current, unit.expectedVersion);
      if (unit.apply) {
        const result = unit.apply(this.readModel) as unknown;
        if (result instanceof Promise) {
          result.catch(() => {});
          throw new EsError('USAGE', 'a handler returned a Promise: handlers on the SQLite store must be synchronous');
        }
      }
      const appended = this.appendOps().insert(unit.streamId, current, [unit.event]);
      if (unit.keep !== undefined) this.trimOp()(unit.streamId, appended.version - Math.max(1, unit.keep));
      for (const extra of unit.also ?? []) {
        const version = this.appendOps().version(extra.streamId);
        if (extra.expectedVersion !== undefined) checkExpectedVersion(extra.streamId, version, extra.expectedVersion);
        const added = this.appendOps().insert(extra.streamId, version, [extra.event]);
        if (extra.keep !== undefined) this.trimOp()(extra.streamId, added.version - Math.max(1, extra.keep));
      }
      return appended;
    });
  }

  async commit(unit: CommitUnit<Database>): Promise<AppendResult> {
    return this.commitSync(unit);
  }

  async tryLease(name: string, owner: LockOwner, ttlMs: number, isDead: (holder: LockOwner) => boolean): Promise<LeaseAttempt> {
    try {
      const locks = this.locks();
      // Read first, outside any transaction: a held projection is refused at once, even while another
      // process's long batch holds the store's write lock (the takeover below would wait for it).
      const holder = locks.otherHolder(name, owner, isDead);
      if (holder) return { taken: false, holder };
      return this.writer.run(() => locks.tryLease(name, owner, ttlMs, isDead));
    } catch (error) {
      if (isReadOnly(error)) throw this.readOnly(error);
      throw error;
    }
  }

  async renewLock(name: string, ownerId: string, ttlMs: number, token?: number): Promise<boolean> {
    return this.writer.run(() => this.locks().renew(name, ownerId, ttlMs, token));
  }

  async releaseLock(name: string, ownerId: string, token?: number): Promise<void> {
    this.writer.run(() => this.locks().release(name, ownerId, token));
  }

  async leases(): Promise<LeaseRow[]> {
    // A read-only store of an older es has no token column: nothing can hold its projections.
    if (!hasLockIdentityColumns(this.raw)) return [];
    return this.locks().leases();
  }

  async heartbeat(worker: Omit<WorkerRow, 'expiresAt'>, ttlMs: number): Promise<void> {
    this.writer.run(() => this.workers().heartbeat(worker, ttlMs));
  }

  async liveWorkers(): Promise<WorkerRow[]> {
    if (!this.hasWorkersTable()) return [];
    return this.workers().liveWorkers();
  }

  async leaveWorker(id: string): Promise<void> {
    this.writer.run(() => this.workers().leave(id));
  }

  private hasWorkersTable(): boolean {
    return this.raw.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'es_workers'`).get() !== undefined;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
