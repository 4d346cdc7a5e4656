import type pg from 'pg';
import { checkMaxBytes } from '../../core/event-size.js';
import { EsError, usage } from '../../core/errors.js';
import type { ExpectedVersion, NewEvent, NewStreamEvent, StoredEvent } from '../../core/events.js';
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
  ReadPoint,
  WorkerRow,
  ReadOptions,
} from '../../ports/event-store.js';
import { NOTIFY_CHANNEL, OlderTransaction, appendInTransaction, isIdTaken, isVersionTaken } from './append.js';
import { commitUnit } from './commit.js';
import { LEASE_BOUNDS, checkServerVersion, createPool, describeConnectFailure, loadPg } from './connect.js';
import { isConnectionError, isDroppedConnection } from './errors.js';
import { analyzeAfterImport, finishImport, importChunk, startImport } from './import.js';
import { pgLocks } from './locks.js';
import { pgWorkers } from './workers.js';
import { cursorBefore, head, lastEvent, pending, readEventPages, readEvents } from './read.js';
import { cursorOfToken, readBatch, type PgCursor } from './read-batch.js';
import { ensureSchema } from './schema.js';
import { pgShadowSpace } from './shadow.js';
import { pooledTransaction } from './tx.js';
import { adoptIfMoved, clusterCheck, type ClusterCheck } from './cluster.js';
import { parsePostgresUrl, type PostgresLocation } from './url.js';

/** With notifications (LISTEN), polling is only the fallback for a lost one. */
const NOTIFIED_POLL_MS = 1000;

export interface PgOpenOptions {
  create?: boolean;
}

export interface PgAppendOptions extends AppendOptions {
  /** A node-postgres client inside the caller's open transaction: the events commit with it. */
  client?: pg.ClientBase;
}

const MAX_ATTEMPTS = 50;

/** Runs `work` in a transaction on a pool client, again in a new one when it must (see OlderTransaction). */
async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>, retryOn: (error: unknown) => boolean): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await pooledTransaction(pool, work);
    } catch (error) {
      if (attempt < MAX_ATTEMPTS && retryOn(error)) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(50, attempt * 2) * Math.random()));
        continue;
      }
      throw error;
    }
  }
}

/** The event store on PostgreSQL: es's tables in one schema, positions in commit order by transaction id. */
export class PostgresEventStore implements EventStore<pg.ClientBase> {
  readonly url: string;
  readonly synchronous = false;
  readonly commitOrder = true;
  readonly schema: string;
  private readonly locks: ReturnType<typeof pgLocks>;
  private readonly workers: ReturnType<typeof pgWorkers>;
  private readonly leasePool: pg.Pool;
  private listener: pg.PoolClient | null = null;
  private wake: (() => void)[] = [];
  /** Notifications received, and how many had been when the last batch read began. */
  private notified = 0;
  private notifiedBeforeRead = 0;

  private constructor(
    driver: typeof pg,
    private readonly pool: pg.Pool,
    location: PostgresLocation,
    private readonly cluster: ClusterCheck,
  ) {
    this.url = location.display;
    this.schema = location.schema;
    // Leases and heartbeats on connections of their own: queued behind batch transactions (which
    // hold a pooled connection each), a renewal could come too late and lose a lease that was fine.
    this.leasePool = createPool(driver, location, 2, LEASE_BOUNDS);
    this.locks = pgLocks(this.leasePool, this.schema);
    this.workers = pgWorkers(this.leasePool, this.schema);
  }

  static async open(url: string, options: PgOpenOptions = {}): Promise<PostgresEventStore> {
    const location = parsePostgresUrl(url);
    const driver = await loadPg();
    const cluster = clusterCheck(location.schema);
    const pool = createPool(driver, location, undefined, {}, cluster.verify);
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient | undefined;
      try {
        client = await pool.connect();
        await checkServerVersion(client, location.display);
        await ensureSchema(client, location.schema, options.create ?? false, location.display);
        cluster.known = await adoptIfMoved(client, location.schema);
        client.release();
        return new PostgresEventStore(driver, pool, location, cluster);
      } catch (error) {
        client?.release(true);
        // A server that answered, then dropped us (restarting, an administrator's kill): try again
        // briefly. One that refuses, or says no, is reported at once.
        if (attempt < 4 && isDroppedConnection(error)) {
          await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
          continue;
        }
        await pool.end().catch(() => {});
        if (error instanceof EsError) throw error;
        throw describeConnectFailure(error, location);
      }
    }
  }

  /** The pool: `setup` and ad-hoc queries; batch handlers get the transaction's client instead. */
  get readModel(): pg.ClientBase {
    return this.pool as unknown as pg.ClientBase;
  }

  isTransient(error: unknown): boolean {
    const code = (error as { code?: unknown } | null)?.code;
    return code === '40001' || code === '40P01' || code === '55P03' || isConnectionError(error);
  }

  async append(streamId: string, events: NewEvent[], expected: ExpectedVersion = 'any', options: PgAppendOptions = {}): Promise<AppendResult> {
    if (options.client) {
      try {
        // The caller's connection is not one of ours, checked when it opened: it may be on a
        // cluster this store has not been adopted on yet.
        await this.cluster.checkCaller(options.client);
        return await appendInTransaction(options.client, this.schema, streamId, events, expected);
      } catch (error) {
        throw this.appendError(error, streamId);
      }
    }
    try {
      return await inTransaction(
        this.pool,
        (client) => appendInTransaction(client, this.schema, streamId, events, expected),
        (error) => error instanceof OlderTransaction || (expected === 'any' && isVersionTaken(error)),
      );
    } catch (error) {
      throw this.appendError(error, streamId);
    }
  }

  private appendError(error: unknown, streamId: string): unknown {
    if (error instanceof OlderTransaction) return new EsError('CONFLICT', error.message, { cause: error });
    if (isVersionTaken(error)) {
      return new EsError('CONFLICT', `append conflict: another writer appended to stream "${streamId}" at the same time`, { cause: error });
    }
    if (isIdTaken(error)) return usage(`an event with that id is stored already (${(error as Error).message})`);
    return error;
  }

  /**
   * One transaction on one client across the awaited chunks. An array input is retried in a new
   * transaction when a stream turns out to have been written by a newer one (see OlderTransaction);
   * a streamed input cannot be read twice, so that is reported as a conflict instead.
   */
  async importEvents<E extends NewStreamEvent>(chunks: AsyncIterable<readonly E[]> | Iterable<readonly E[]>): Promise<ImportResult> {
    const replayable = Array.isArray(chunks);
    try {
      const result = await inTransaction(
        this.pool,
        async (client) => {
          const state = startImport();
          for await (const chunk of chunks) await importChunk(client, this.schema, state, chunk);
          return finishImport(client, this.schema, state);
        },
        (error) => replayable && (error instanceof OlderTransaction || isVersionTaken(error) || isIdTaken(error)),
      );
      await analyzeAfterImport(this.pool, this.schema, result.appended);
      return result;
    } catch (error) {
      // Another writer stored events in this import's streams, or events with its ids (the same
      // file imported twice at once): its transaction waited for that one, then collided with it.
      if (error instanceof OlderTransaction || isVersionTaken(error) || isIdTaken(error)) {
        throw new EsError(
          'CONFLICT',
          `another writer stored events in this import's streams or with its ids while it ran; import again (events with ids are skipped when stored)`,
          {
            cause: error,
          },
        );
      }
      throw error;
    }
  }

  async appendMany(events: readonly NewStreamEvent[]): Promise<ImportResult> {
    return this.importEvents([events]);
  }

  async read(options: ReadOptions): Promise<StoredEvent[]> {
    return readEvents(this.pool, this.schema, options);
  }

  readPages(options: ReadOptions, pageSize: number, maxBytes?: number): AsyncIterable<StoredEvent[]> {
    return readEventPages(this.pool, this.schema, options, pageSize, maxBytes);
  }

  async readBatch(query: BatchQuery): Promise<Batch> {
    if (!(query.limit >= 1)) throw new EsError('USAGE', `batch size must be at least 1 (got ${query.limit})`);
    if (query.maxBytes !== undefined) checkMaxBytes(query.maxBytes);
    this.notifiedBeforeRead = this.notified;
    const cursor = await this.cursorOf(query);
    const { until } = query;
    const cap = until ? { after: until.after, cursor: cursorOfToken(until.resume) } : undefined;
    return readBatch(this.pool, this.schema, { cursor, types: query.types, limit: query.limit, floor: query.after, maxBytes: query.maxBytes, cap });
  }

  /** A checkpoint without a transaction id (before the first event, or a replay-from): find one. */
  private async cursorOf(point: ReadPoint): Promise<PgCursor> {
    return cursorOfToken(point.resume) ?? cursorBefore(this.pool, this.schema, point.after + 1);
  }

  async lastEvent(streamId: string): Promise<StoredEvent | undefined> {
    return lastEvent(this.pool, this.schema, streamId);
  }

  async head(): Promise<number> {
    return head(this.pool, this.schema);
  }

  async pending(query: PendingQuery): Promise<Pending> {
    return pending(this.pool, this.schema, await this.cursorOf(query), query.types, query.upTo);
  }

  /** Writers do not queue behind one lock here: nothing to pause for. */
  writerPauseMs(): number {
    return 0;
  }

  shadowSpace(name: string, slot: ShadowSlot): ShadowSpace<pg.ClientBase> {
    return pgShadowSpace({ pool: this.pool, commit: (unit) => this.commit(unit), isTransient: (e) => this.isTransient(e), display: this.url }, name, slot);
  }

  async commit(unit: CommitUnit<pg.ClientBase>): Promise<AppendResult> {
    try {
      return await commitUnit(this.pool, this.schema, unit);
    } catch (error) {
      if (isVersionTaken(error)) {
        throw new EsError('CONFLICT', `append conflict: stream "${unit.streamId}" was written by another process`, { cause: error });
      }
      throw error;
    }
  }

  async tryLease(name: string, owner: LockOwner, ttlMs: number, isDead: (holder: LockOwner) => boolean): Promise<LeaseAttempt> {
    return this.locks.tryLease(name, owner, ttlMs, isDead);
  }

  async renewLock(name: string, ownerId: string, ttlMs: number, token?: number): Promise<boolean> {
    return this.locks.renew(name, ownerId, ttlMs, token);
  }

  async releaseLock(name: string, ownerId: string, token?: number): Promise<void> {
    await this.locks.release(name, ownerId, token);
  }

  async leases(): Promise<LeaseRow[]> {
    return this.locks.leases();
  }

  async heartbeat(worker: Omit<WorkerRow, 'expiresAt'>, ttlMs: number): Promise<void> {
    await this.workers.heartbeat(worker, ttlMs);
  }

  async liveWorkers(): Promise<WorkerRow[]> {
    return this.workers.live();
  }

  async leaveWorker(id: string): Promise<void> {
    await this.workers.leave(id);
  }

  /**
   * Resolves when an append is notified or after `ms`, whichever comes first. A lost notification
   * (a dropped LISTEN connection) only delays: the caller polls again.
   */
  /** Woken by LISTEN; polling once a second is only the fallback for a lost notification. */
  async waitForAppend(_pollMs: number, signal?: AbortSignal): Promise<void> {
    const ms = NOTIFIED_POLL_MS;
    await this.listen().catch(() => {});
    // An append notified while the last batch was being read: that read may not have seen it.
    if (this.notified > this.notifiedBeforeRead) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.wake = this.wake.filter((w) => w !== done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      this.wake.push(done);
    });
  }

  private listening: Promise<void> | null = null;

  private listen(): Promise<void> {
    if (this.listener) return Promise.resolve();
    this.listening ??= this.startListening().finally(() => {
      this.listening = null;
    });
    return this.listening;
  }

  private async startListening(): Promise<void> {
    const client = await this.pool.connect();
    client.on('notification', (message) => {
      if (message.payload !== this.schema) return;
      this.notified += 1;
      for (const wake of this.wake.splice(0)) wake();
    });
    client.on('error', () => {
      if (this.listener === client) this.listener = null;
      client.release(true);
    });
    try {
      await client.query(`LISTEN ${NOTIFY_CHANNEL}`);
    } catch (error) {
      client.release(true);
      throw error;
    }
    // Only a client that listens counts as the listener; a failed LISTEN is tried again next time.
    this.listener = client;
  }

  async close(): Promise<void> {
    if (this.listener) {
      this.listener.release(true);
      this.listener = null;
    }
    await this.pool.end().catch(() => {});
    await this.leasePool.end().catch(() => {});
  }
}
