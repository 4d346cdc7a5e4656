import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createRequire } from 'node:module';
import type { default as SqliteConstructor, Database } from 'better-sqlite3';
import { EsError, environment } from '../../core/errors.js';
import { checkNames, type ExpectedVersion, type NewEvent, type NewStreamEvent, type StoredEvent } from '../../core/events.js';
import type {
  AppendResult,
  Batch,
  BatchQuery,
  CommitUnit,
  EventStore,
  ImportResult,
  LockOwner,
  Pending,
  ReadOptions,
} from '../../ports/event-store.js';
import { checkExpectedVersion, prepareAppend } from './append.js';
import { prepareImport, startImport } from './import.js';
import { prepareHead, prepareLastEvent, prepareRead } from './read.js';
import { preparePending } from './pending.js';
import { prepareReadBatch } from './read-batch.js';
import { ensureSchema } from './schema.js';
import { prepareTrim } from './trim.js';
import { prepareLocks } from './locks.js';
import { withStatementCache } from './statement-cache.js';

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

function openDatabase(path: string, options: SqliteOpenOptions): Database {
  const exists = existsSync(path);
  if (!exists && !options.create) {
    throw environment(
      `no event store at ${path}: check --db, or create one with \`es append\`, \`es import\` or \`es demo\``,
    );
  }
  if (!exists) mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  let db: Database;
  try {
    db = new Sqlite(path, { timeout: options.busyTimeoutMs ?? BUSY_TIMEOUT_MS });
  } catch (error) {
    throw environment(`cannot open event store ${path}: ${(error as Error).message}`, error);
  }
  try {
    // Recognise the file first: a mistyped --db must not switch someone else's database to WAL.
    ensureSchema(db, path, options.create ?? false);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    if (!exists) chmodSync(path, 0o644);
  } catch (error) {
    db.close();
    // Busy: another process holds the write lock past the timeout (upgrading the store, say): exit 75, try later.
    if (error instanceof EsError || /^SQLITE_BUSY/.test(String((error as { code?: unknown }).code))) throw error;
    const code = (error as { code?: string }).code;
    const why =
      code === 'SQLITE_NOTADB' ? 'not an es event store' : code === 'SQLITE_CORRUPT' ? 'the database file is damaged' : 'cannot open event store';
    throw environment(`${path}: ${why} (${(error as Error).message})`, error);
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

  constructor(readonly path: string, options: SqliteOpenOptions = {}) {
    this.url = `sqlite:${path}`;
    const db = openDatabase(resolve(path), options);
    this.raw = db;
    this.readModel = withStatementCache(db);
    this.appendOps = lazy(() => prepareAppend(db));
    this.trimOp = lazy(() => prepareTrim(db));
    this.readOp = lazy(() => prepareRead(db));
    this.readBatchOp = lazy(() => prepareReadBatch(db));
    this.lastEventOp = lazy(() => prepareLastEvent(db));
    this.headOp = lazy(() => prepareHead(db));
    this.pendingOp = lazy(() => preparePending(db));
    this.importOp = lazy(() => prepareImport(db, this.appendOps()));
    this.locks = lazy(() => prepareLocks(db));
  }

  isTransient(error: unknown): boolean {
    const code = (error as { code?: unknown } | null)?.code;
    return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
  }

  get db(): Database {
    return this.raw;
  }

  appendSync(streamId: string, events: readonly NewEvent[], expected: ExpectedVersion = 'any'): AppendResult {
    for (const event of events) checkNames(streamId, event.type);
    this.notImporting();
    return this.db
      .transaction(() => {
        const current = this.appendOps().version(streamId);
        checkExpectedVersion(streamId, current, expected);
        return this.appendOps().insert(streamId, current, events);
      })
      .immediate();
  }

  async append(streamId: string, events: NewEvent[], expected: ExpectedVersion = 'any'): Promise<AppendResult> {
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
      this.raw.exec('BEGIN IMMEDIATE');
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

  readPages(options: ReadOptions, pageSize: number): AsyncIterable<StoredEvent[]> {
    return this.readOp().pages(options, pageSize);
  }

  readBatchSync(query: BatchQuery): Batch {
    return this.readBatchOp()(query);
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

  async pending(after: number, types: readonly string[] | null): Promise<Pending> {
    return this.pendingOp()(after, types);
  }

  commitSync(unit: CommitUnit<Database>): AppendResult {
    this.notImporting();
    return this.db
      .transaction(() => {
        if (unit.apply) {
          const result = unit.apply(this.readModel) as unknown;
          if (result instanceof Promise) {
            result.catch(() => {});
            throw new EsError('USAGE', 'a handler returned a Promise: handlers on the SQLite store must be synchronous');
          }
        }
        const current = this.appendOps().version(unit.streamId);
        checkExpectedVersion(unit.streamId, current, unit.expectedVersion);
        const appended = this.appendOps().insert(unit.streamId, current, [unit.event]);
        if (unit.keep !== undefined) this.trimOp()(unit.streamId, appended.version - Math.max(1, unit.keep));
        for (const extra of unit.also ?? []) {
          const version = this.appendOps().version(extra.streamId);
          if (extra.expectedVersion !== undefined) checkExpectedVersion(extra.streamId, version, extra.expectedVersion);
          const added = this.appendOps().insert(extra.streamId, version, [extra.event]);
          if (extra.keep !== undefined) this.trimOp()(extra.streamId, added.version - Math.max(1, extra.keep));
        }
        return appended;
      })
      .immediate();
  }

  async commit(unit: CommitUnit<Database>): Promise<AppendResult> {
    return this.commitSync(unit);
  }

  async tryLock(
    name: string,
    owner: LockOwner,
    ttlMs: number,
    isDead: (holder: LockOwner) => boolean,
  ): Promise<LockOwner | null> {
    return this.locks().tryLock(name, owner, ttlMs, isDead);
  }

  async renewLock(name: string, ownerId: string, ttlMs: number): Promise<boolean> {
    return this.locks().renew(name, ownerId, ttlMs);
  }

  async releaseLock(name: string, ownerId: string): Promise<void> {
    this.locks().release(name, ownerId);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
