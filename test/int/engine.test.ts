/**
 * The engine on every kind of store (see storeKinds): runs, faults, versions and rebuilds,
 * replay-from and status, through projections whose SQL reads the same on each (ReadModelSql).
 */
import type { Database } from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/core/events.js';
import { normalizeProjection, type Projection } from '../../src/core/projection.js';
import { rebuildProjection, replayFrom } from '../../src/engine/rebuild.js';
import { runProjection } from '../../src/engine/run/index.js';
import { status } from '../../src/engine/status.js';
import type { Progress } from '../../src/engine/types.js';
import type { CommitUnit, EventStore } from '../../src/ports/event-store.js';
import { andThen, storeKinds, type ReadModelSql } from '../support/backends.js';

describe.each(storeKinds())('the engine on %s', (kind) => {
  let store: EventStore<any>;
  let sql: ReadModelSql;
  let cleanup: () => Promise<void>;

  beforeEach(async () => {
    ({ store, cleanup } = await kind.open());
    sql = kind.sql(store);
  });
  afterEach(async () => {
    await cleanup();
  });

  /** Waits until what was appended is visible to a projection (see StoreKind.settle). */
  const settle = () => kind.settle(store);

  /**
   * Makes the store's next commits wait for `until()` first: what a test starts from onProgress (a
   * read, a foreign append) then happens between two batches on a store whose calls are asynchronous
   * (PostgreSQL) as it does at once on SQLite.
   */
  function commitsWaitFor(until: () => Promise<unknown>): void {
    const commit = store.commit.bind(store);
    store.commit = async (unit: CommitUnit<any>) => {
      await until();
      return commit(unit);
    };
  }

  const TYPES = ['OrderPlaced', 'OrderPaid', 'OrderShipped'] as const;

  /** Appends `count` user events cycling through TYPES; data.n numbers them from `start`. */
  async function appendOrders(count: number, start = 1): Promise<StoredEvent[]> {
    for (let i = 0; i < count; i++) {
      const n = start + i;
      await store.append(`order-${n % 4}`, [{ type: TYPES[(n - 1) % 3]!, data: { n } }]);
    }
    await settle();
    return userEvents();
  }

  async function userEvents(): Promise<StoredEvent[]> {
    return store.read({});
  }

  interface TallyOptions {
    name?: string;
    version?: number;
    events?: string[];
    fail?: (event: StoredEvent) => boolean;
    resets?: { count: number };
    handled?: number[];
  }

  /**
   * A projection that records each event it handles in `<name>_seen`, counting repeats, so a replay or
   * a double application shows up as `times > 1`.
   */
  function tally(options: TallyOptions = {}): Projection<unknown> {
    const name = options.name ?? 'tally';
    const table = sql.table(`${name.replace(/-/g, '_')}_seen`);
    const handle = (event: StoredEvent, db: unknown) => {
      if (options.fail?.(event)) throw new Error(`cannot handle ${event.type} #${String(event.data.n)}`);
      options.handled?.push(event.position);
      return sql.run(
        db,
        `INSERT INTO ${table} AS s (position, id, type, times) VALUES (?, ?, ?, 1)
         ON CONFLICT (position) DO UPDATE SET times = s.times + 1`,
        [event.position, event.id, event.type],
      );
    };
    const handlers = options.events ? Object.fromEntries(options.events.map((type) => [type, handle])) : { '*': handle };
    return normalizeProjection<unknown>(
      {
        name,
        version: options.version ?? 1,
        setup(db: unknown) {
          return sql.exec(db, `CREATE TABLE IF NOT EXISTS ${table} (position INTEGER PRIMARY KEY, id TEXT, type TEXT, times INTEGER)`);
        },
        reset(db: unknown) {
          if (options.resets) options.resets.count += 1;
          return sql.exec(db, `DELETE FROM ${table}`);
        },
        handlers,
      },
      `${name}.ts`,
      name,
    );
  }

  function seen(name = 'tally'): Promise<{ position: number; type: string; times: number }[]> {
    const table = sql.table(`${name.replace(/-/g, '_')}_seen`);
    return sql.rows(`SELECT position, type, times FROM ${table} ORDER BY position`);
  }

  const checkpointEvents = (name = 'tally') => store.read({ streamId: `$checkpoint-${name}` });
  const lastCheckpoint = (name = 'tally') => store.lastEvent(`$checkpoint-${name}`);
  const positionsOf = (events: readonly { position: number }[]) => events.map((e) => e.position);

  async function statusRow(projection: Projection<unknown>, thresholds = {}) {
    const report = await status(store, [projection as Projection<unknown>], thresholds);
    return { report, row: report.projections[0]! };
  }

  describe('runProjection', () => {
    it('processes every event, stops at the head and checkpoints { position, version }', async () => {
      const events = await appendOrders(12);
      const head = await store.head();
      const result = await runProjection(store, tally(), { batchSize: 5 });
      expect(result).toMatchObject({ name: 'tally', from: 0, to: head, processed: 12, state: 'up-to-date', error: null });
      expect(result.interrupted).toBe(false);
      expect(positionsOf(await seen())).toEqual(positionsOf(events));
      expect((await seen()).every((row) => row.times === 1)).toBe(true);
      const last = await lastCheckpoint();
      expect(last).toMatchObject({ streamId: '$checkpoint-tally', type: 'Checkpoint', data: { position: head, version: 1 } });
      // Checkpoint events live in a system stream: they do not move the head.
      expect(await store.head()).toBe(head);
    });

    it('an incremental run processes only the new events', async () => {
      await appendOrders(6);
      const first = await runProjection(store, tally(), { batchSize: 100 });
      const more = await appendOrders(4, 7);
      const second = await runProjection(store, tally(), { batchSize: 100 });
      expect(second).toMatchObject({ from: first.to, to: await store.head(), processed: 4, state: 'up-to-date' });
      expect(positionsOf(await seen())).toEqual(positionsOf(more));
      expect((await seen()).every((row) => row.times === 1)).toBe(true);
      const third = await runProjection(store, tally(), { batchSize: 100 });
      expect(third).toMatchObject({ from: second.to, to: second.to, processed: 0, state: 'up-to-date' });
    });

    it('a sparse projection checkpoints past the events it skips; a second run processes 0 and writes nothing', async () => {
      const events = await appendOrders(9); // the last event is an OrderShipped
      const paid = events.filter((e) => e.type === 'OrderPaid');
      const head = await store.head();
      const projection = tally({ name: 'paid', events: ['OrderPaid'] });

      const first = await runProjection(store, projection, { batchSize: 100 });
      expect(first).toMatchObject({ processed: paid.length, to: head, state: 'up-to-date' });
      expect(positionsOf(await seen('paid'))).toEqual(positionsOf(paid));
      expect(paid[paid.length - 1]!.position).toBeLessThan(head);
      expect((await lastCheckpoint('paid'))!.data.position).toBe(head);

      const before = await checkpointEvents('paid');
      const second = await runProjection(store, projection, { batchSize: 100 });
      expect(second).toMatchObject({ from: head, to: head, processed: 0, state: 'up-to-date' });
      expect(await checkpointEvents('paid')).toEqual(before);

      // Only events it does not handle arrive: nothing to process, and it is not behind.
      await store.append('order-x', [{ type: 'OrderShipped' }, { type: 'OrderPlaced' }]);
      await settle();
      const third = await runProjection(store, projection, { batchSize: 100 });
      expect(third.processed).toBe(0);
      const { row } = await statusRow(projection);
      expect(row).toMatchObject({ state: 'up-to-date', lag: 0, healthy: true });
    });

    it('keeps at most 10 checkpoint events over many batches, the last always telling the position', async () => {
      await appendOrders(30);
      const cp = '$checkpoint-tally';
      const snapshots: Promise<{ progress: Progress; events: StoredEvent[] }>[] = [];
      // Each snapshot is read before the next batch commits.
      commitsWaitFor(() => Promise.all(snapshots));
      const result = await runProjection(store, tally(), {
        batchSize: 1,
        onProgress: (progress) => {
          const copy = { ...progress };
          snapshots.push(store.read({ streamId: cp }).then((events) => ({ progress: copy, events })));
        },
      });
      expect(result.processed).toBe(30);
      const taken = await Promise.all(snapshots);
      expect(taken.length).toBeGreaterThan(10);
      for (const { progress, events } of taken) {
        expect(events.length).toBeLessThanOrEqual(10);
        if (progress.position > 0) expect(events[events.length - 1]!.data.position).toBe(progress.position);
      }
      const final = await checkpointEvents();
      expect(final.length).toBeLessThanOrEqual(10);
      expect(final[final.length - 1]!.version).toBeGreaterThan(10); // trimming really happened
      expect(final[final.length - 1]!.data.position).toBe(await store.head());
    });
  });

  describe('faults', () => {
    it('a handler that throws at event k commits the events before it and records a Faulted event', async () => {
      const events = await appendOrders(10);
      const bad = events[6]!; // n = 7, in the second batch of 4
      const projection = tally({ fail: (e) => e.data.n === 7 });
      const result = await runProjection(store, projection, { batchSize: 4 });

      const error = { message: 'cannot handle OrderPlaced #7', position: bad.position, eventId: bad.id, type: bad.type };
      expect(result).toMatchObject({ state: 'faulted', processed: 6, to: events[5]!.position, error });
      expect(positionsOf(await seen())).toEqual(positionsOf(events.slice(0, 6)));
      const last = await lastCheckpoint();
      expect(last).toMatchObject({ type: 'Faulted', data: { position: events[5]!.position, version: 1, error } });

      const { row, report } = await statusRow(projection);
      expect(row).toMatchObject({ state: 'faulted', position: events[5]!.position, lag: 4, error, healthy: false });
      expect(report.healthy).toBe(false);
    });

    it('fixing the handler and running again gets past the event and clears the fault', async () => {
      const events = await appendOrders(10);
      await runProjection(store, tally({ fail: (e) => e.data.n === 7 }), { batchSize: 4 });
      const again = await runProjection(store, tally({ fail: (e) => e.data.n === 7 }), { batchSize: 4 });
      expect(again.state).toBe('faulted');
      expect(positionsOf(await seen())).toEqual(positionsOf(events.slice(0, 6)));

      const fixed = tally();
      const result = await runProjection(store, fixed, { batchSize: 4 });
      expect(result).toMatchObject({ state: 'up-to-date', from: events[5]!.position, processed: 4, error: null });
      expect(positionsOf(await seen())).toEqual(positionsOf(events));
      expect((await seen()).every((row) => row.times === 1)).toBe(true);
      const { row } = await statusRow(fixed);
      expect(row).toMatchObject({ state: 'up-to-date', error: null, healthy: true, lag: 0 });
    });

    it('a fault on the very first event is a fault at position 0, not never-run', async () => {
      const events = await appendOrders(3);
      const projection = tally({ fail: (e) => e.data.n === 1 });
      const result = await runProjection(store, projection, { batchSize: 10 });
      expect(result).toMatchObject({ state: 'faulted', processed: 0, error: { position: events[0]!.position } });
      expect(await seen()).toEqual([]);
      expect((await lastCheckpoint())!.data.position).toBe(0);
      const { row } = await statusRow(projection);
      expect(row).toMatchObject({ state: 'faulted', position: 0, lag: 3, healthy: false });
    });

    // SQLite only: its handlers must be synchronous (a batch is one better-sqlite3 transaction); on
    // PostgreSQL a handler returning a Promise is the ordinary kind.
    it.skipIf(!kind.synchronous)('a handler returning a Promise faults on SQLite and its writes are rolled back', async () => {
      const events = await appendOrders(4);
      const projection = normalizeProjection<Database>(
        {
          name: 'asyncy',
          setup: (db: Database) => db.exec('CREATE TABLE IF NOT EXISTS asyncy (position INTEGER PRIMARY KEY)'),
          handlers: {
            OrderPlaced: (e: StoredEvent, db: Database) => {
              db.prepare('INSERT INTO asyncy VALUES (?)').run(e.position);
            },
            OrderPaid: async (e: StoredEvent, db: Database) => {
              db.prepare('INSERT INTO asyncy VALUES (?)').run(e.position);
            },
          },
        },
        'asyncy.ts',
        'asyncy',
      );
      const result = await runProjection(store, projection, { batchSize: 10 });
      expect(result.state).toBe('faulted');
      expect(result.error).toMatchObject({ position: events[1]!.position, type: 'OrderPaid', eventId: events[1]!.id });
      expect(result.error!.message).toMatch(/Promise|synchronous/i);
      expect(store.readModel.prepare('SELECT position FROM asyncy').pluck().all()).toEqual([events[0]!.position]);
      const { row } = await statusRow(projection as Projection<unknown>);
      expect(row.state).toBe('faulted');
    });

    it('an async handler that rejects faults without leaving an unhandled rejection behind', async () => {
      await appendOrders(2);
      const projection = normalizeProjection<unknown>(
        {
          name: 'rejecting',
          handlers: {
            '*': async () => {
              throw new Error('async boom');
            },
          },
        },
        'rejecting.ts',
        'rejecting',
      );
      const saved = process.listeners('unhandledRejection');
      process.removeAllListeners('unhandledRejection');
      const unhandled: unknown[] = [];
      const listener = (reason: unknown): void => {
        unhandled.push(reason);
      };
      process.on('unhandledRejection', listener);
      let state: string;
      try {
        state = (await runProjection(store, projection, { batchSize: 10 })).state;
        // Nothing to wait for: an unhandled rejection would be reported after the turn that left it, so
        // the test gives it 50 ms to come before it looks.
        await new Promise((resolve) => setTimeout(resolve, 50));
      } finally {
        process.off('unhandledRejection', listener);
        for (const original of saved) process.on('unhandledRejection', original);
      }
      expect(state).toBe('faulted');
      expect(unhandled.map(String)).toEqual([]);
    });

    it('a second writer on the checkpoint stream stops the run (state locked) and rolls back that batch', async () => {
      const events = await appendOrders(6);
      let calls = 0;
      let moved: Promise<unknown> = Promise.resolve();
      commitsWaitFor(() => moved);
      const run = runProjection(store, tally(), {
        batchSize: 2,
        onProgress: () => {
          calls += 1;
          // After the first batch committed, someone else moves the checkpoint.
          if (calls === 2) moved = store.append('$checkpoint-tally', [{ type: 'Checkpoint', data: { position: 0, version: 1 } }]);
        },
      });
      // Reported, not thrown: a run of several projections goes on with the others (exit 75 from the CLI).
      await expect(run).resolves.toMatchObject({
        state: 'locked',
        interrupted: true,
        processed: 2,
        error: { message: expect.stringMatching(/was moved by another process/) },
      });
      expect(positionsOf(await seen())).toEqual(positionsOf(events.slice(0, 2)));
      expect(await lastCheckpoint()).toMatchObject({ data: { position: 0 } });
    });
  });

  describe('versions and rebuild', () => {
    it('a version change is stale-version: run refuses until rebuild, which resets and replays from 0', async () => {
      const events = await appendOrders(5);
      await runProjection(store, tally(), { batchSize: 100 });
      const before = await checkpointEvents();

      const resets = { count: 0 };
      const v2 = tally({ version: 2, resets });
      const { row } = await statusRow(v2);
      expect(row).toMatchObject({ state: 'stale-version', version: 2, healthy: false });

      const refused = await runProjection(store, v2, { batchSize: 100 });
      expect(refused).toMatchObject({ state: 'stale-version', processed: 0 });
      expect(await checkpointEvents()).toEqual(before);
      expect((await seen()).every((r) => r.times === 1)).toBe(true);
      expect(resets.count).toBe(0);

      const rebuilt = await rebuildProjection(store, v2, { batchSize: 2 });
      expect(rebuilt).toMatchObject({ state: 'up-to-date', from: 0, to: await store.head(), processed: 5 });
      expect(resets.count).toBe(1);
      expect(positionsOf(await seen())).toEqual(positionsOf(events));
      expect((await seen()).every((r) => r.times === 1)).toBe(true); // reset emptied it before the replay
      expect(await lastCheckpoint()).toMatchObject({ data: { version: 2 } });
      expect((await statusRow(v2)).row).toMatchObject({ state: 'up-to-date', version: 2, healthy: true });
    });

    it('a faulted projection whose version changed shows stale-version, and rebuild clears both', async () => {
      await appendOrders(4);
      await runProjection(store, tally({ fail: (e) => e.data.n === 3 }), { batchSize: 10 });
      const v2 = tally({ version: 2 });
      expect((await statusRow(v2)).row.state).toBe('stale-version');
      const rebuilt = await rebuildProjection(store, v2, { batchSize: 10 });
      expect(rebuilt.state).toBe('up-to-date');
      expect((await statusRow(v2)).row).toMatchObject({ state: 'up-to-date', error: null, healthy: true });
    });

    it('rebuild of an up-to-date projection calls reset and replays every event once', async () => {
      const events = await appendOrders(7);
      await runProjection(store, tally(), { batchSize: 3 });
      const resets = { count: 0 };
      const handled: number[] = [];
      const result = await rebuildProjection(store, tally({ resets, handled }), { batchSize: 3 });
      expect(resets.count).toBe(1);
      expect(result).toMatchObject({ from: 0, processed: 7, state: 'up-to-date' });
      expect(handled).toEqual(positionsOf(events));
      expect((await seen()).map((r) => r.times)).toEqual(Array(7).fill(1));
    });

    it('a reset or setup that throws reports the projection faulted and leaves the read model and checkpoint alone', async () => {
      await appendOrders(3);
      await runProjection(store, tally(), { batchSize: 10 });
      const before = await checkpointEvents();
      const table = sql.table('tally_seen');
      const broken = normalizeProjection<unknown>(
        {
          name: 'tally',
          setup: (db: unknown) => sql.exec(db, `CREATE TABLE IF NOT EXISTS ${table} (position INTEGER PRIMARY KEY, id TEXT, type TEXT, times INTEGER)`),
          reset: (db: unknown) =>
            andThen(sql.exec(db, `DELETE FROM ${table}`), () => {
              throw new Error('reset exploded');
            }),
          handlers: { '*': () => {} },
        },
        'tally.ts',
        'tally',
      );
      const result = await rebuildProjection(store, broken, { batchSize: 10 });
      expect(result.state).toBe('faulted');
      expect(result.error!.message).toContain('reset exploded');
      expect(await seen()).toHaveLength(3);
      expect(await checkpointEvents()).toEqual(before);

      const brokenSetup = normalizeProjection<unknown>(
        {
          name: 'broken-setup',
          setup: () => {
            throw new Error('no such table: nope');
          },
          reset: () => {},
          handlers: { '*': () => {} },
        },
        'broken-setup.ts',
        'broken-setup',
      );
      for (const outcome of [await runProjection(store, brokenSetup, { batchSize: 10 }), await rebuildProjection(store, brokenSetup, { batchSize: 10 })]) {
        expect(outcome).toMatchObject({ state: 'faulted', processed: 0 });
        expect(outcome.error!.message).toContain('no such table: nope');
      }
      expect(await lastCheckpoint('broken-setup')).toBeUndefined();
    });
  });

  describe('replayFrom', () => {
    it('makes the next processed event the first at or after the position and keeps the read model', async () => {
      // Checkpoint events between the runs leave holes in the positions of user events.
      await appendOrders(3);
      await runProjection(store, tally(), { batchSize: 2 });
      await appendOrders(3, 4);
      await runProjection(store, tally(), { batchSize: 2 });
      await appendOrders(3, 7);
      const all = await store.read({ includeSystem: true });
      const users = all.filter((e) => !e.streamId.startsWith('$'));
      // Replay from a position that belongs to a checkpoint event, in the middle of the log.
      const hole = all.find((e) => e.streamId.startsWith('$') && e.position > users[2]!.position)!;
      const expected = users.filter((e) => e.position >= hole.position);
      expect(hole.position).toBeLessThan(users[3]!.position);
      expect(expected).toHaveLength(6);

      const resets = { count: 0 };
      const handled: number[] = [];
      const result = await replayFrom(store, tally({ resets, handled }), hole.position, { batchSize: 2 });
      expect(handled[0]).toBe(expected[0]!.position);
      expect(handled).toEqual(positionsOf(expected));
      expect(result).toMatchObject({ processed: expected.length, state: 'up-to-date', to: await store.head() });
      expect(resets.count).toBe(0);
      const rows = await seen();
      expect(positionsOf(rows)).toEqual(positionsOf(users));
      const replayedOld = new Set(positionsOf(expected.filter((e) => (e.data.n as number) <= 6)));
      for (const row of rows) expect(row.times).toBe(replayedOld.has(row.position) ? 2 : 1);

      // Replaying from the head processes exactly the last event.
      const again: number[] = [];
      const last = await replayFrom(store, tally({ handled: again }), await store.head(), { batchSize: 2 });
      expect(again).toEqual([users[users.length - 1]!.position]);
      expect(last.processed).toBe(1);
    });

    it('a position past the head is a usage error and moves nothing', async () => {
      await appendOrders(3);
      await runProjection(store, tally(), { batchSize: 10 });
      const head = await store.head();
      const before = await checkpointEvents();
      const lastSystem = (await store.read({ includeSystem: true })).at(-1)!.position;
      expect(lastSystem).toBeGreaterThan(head);
      await expect(replayFrom(store, tally(), head + 1, { batchSize: 10 })).rejects.toMatchObject({ code: 'USAGE' });
      await expect(replayFrom(store, tally(), lastSystem, { batchSize: 10 })).rejects.toMatchObject({ code: 'USAGE' });
      expect(await checkpointEvents()).toEqual(before);
    });
  });

  describe('status', () => {
    it('never-run is healthy on an empty log (system events aside), unhealthy with events, their count as lag', async () => {
      expect((await statusRow(tally())).row).toMatchObject({ state: 'never-run', lag: 0, lagSeconds: 0, healthy: true });
      await store.append('$checkpoint-other', [{ type: 'Checkpoint', data: { position: 0, version: 1 } }]);
      const empty = await statusRow(tally());
      expect(empty.row).toMatchObject({ state: 'never-run', lag: 0, healthy: true });
      expect(empty.report).toMatchObject({ head: 0, healthy: true });

      const events = await appendOrders(5);
      const now = Date.parse(events[0]!.recordedAt) + 5_000;
      const { row, report } = await statusRow(tally(), { now });
      expect(report.head).toBe(events[4]!.position);
      expect(report.healthy).toBe(false);
      expect(row).toMatchObject({
        name: 'tally',
        version: 1,
        position: 0,
        lag: 5,
        lagSeconds: 5,
        state: 'never-run',
        lastCheckpointAt: null,
        error: null,
        healthy: false,
      });
    });

    it('up-to-date, then behind with lag counting only the projection’s own event types', async () => {
      await appendOrders(6);
      const projection = tally({ name: 'paid', events: ['OrderPaid'] });
      await runProjection(store, projection, { batchSize: 100 });
      const up = (await statusRow(projection)).row;
      expect(up).toMatchObject({ state: 'up-to-date', lag: 0, lagSeconds: 0, healthy: true });
      expect(up.lastCheckpointAt).toBe((await lastCheckpoint('paid'))!.recordedAt);

      await store.append('order-9', [{ type: 'OrderPlaced' }, { type: 'OrderPaid' }, { type: 'OrderShipped' }]);
      await store.append('order-8', [{ type: 'OrderPaid' }]);
      await store.append('$checkpoint-other', [{ type: 'OrderPaid' }]);
      await settle();
      const pending = (await userEvents()).filter((e) => e.type === 'OrderPaid' && e.position > up.position);
      expect(pending).toHaveLength(2);
      const now = Date.parse(pending[0]!.recordedAt) + 12_500;
      const { row } = await statusRow(projection, { now });
      expect(row).toMatchObject({ state: 'behind', lag: 2, lagSeconds: 12.5, healthy: true });
    });

    it('maxLag and maxAgeMs make a behind projection unhealthy only when exceeded', async () => {
      await appendOrders(3);
      const projection = tally();
      await runProjection(store, projection, { batchSize: 100 });
      await appendOrders(3, 4);
      const oldest = (await userEvents())[3]!;
      const now = Date.parse(oldest.recordedAt) + 10_000;
      const check = async (thresholds: object) => (await statusRow(projection, { now, ...thresholds })).row.healthy;
      expect(await check({})).toBe(true);
      expect(await check({ maxLag: 3 })).toBe(true);
      expect(await check({ maxLag: 2 })).toBe(false);
      expect(await check({ maxAgeMs: 10_000 })).toBe(true);
      expect(await check({ maxAgeMs: 9_999 })).toBe(false);
      expect(await check({ maxLag: 0 })).toBe(false);

      // The report is unhealthy when any one projection is.
      const other = tally({ name: 'other' });
      await runProjection(store, other, { batchSize: 100 });
      const report = await status(store, [projection, other] as Projection<unknown>[], { maxLag: 2 });
      expect(report.projections.map((r) => [r.name, r.state, r.healthy])).toEqual([
        ['tally', 'behind', false],
        ['other', 'up-to-date', true],
      ]);
      expect(report.healthy).toBe(false);
    });
  });
});
