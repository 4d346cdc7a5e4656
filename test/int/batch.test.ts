/**
 * Set-based projections (`batch`) and `context.replaying`, on SQLite and PostgreSQL: a poison event
 * in a batch of 1,000 is narrowed down and named, the others handled exactly once (after a fix, or
 * with skip); replaying is true for the events a rebuild or replay-from hands over again, also
 * across restarts, for handlers and batches alike.
 */
import type { Database } from 'better-sqlite3';
import type pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewStreamEvent, StoredEvent } from '../../src/core/events.js';
import type { ProjectionContext } from '../../src/core/projection.js';
import { normalizeProjection, type Projection } from '../../src/core/projection.js';
import { rebuildProjection, replayFrom } from '../../src/engine/rebuild.js';
import { runProjection } from '../../src/engine/run/index.js';
import { runProjections as runTogether } from '../../src/engine/run/index.js';
import type { EventStore } from '../../src/ports/event-store.js';
import { storeKinds, type StoreKind } from '../support/backends.js';

interface Row {
  id: string;
  position: number;
  times: number;
  replaying: number;
}

/** A store of one kind (see storeKinds), and how its `seen` table is written and read. */
interface Backend {
  name: string;
  open(): Promise<EventStore<unknown>>;
  /** Reopens the same store (a restart). */
  reopen(): Promise<EventStore<unknown>>;
  setup(db: unknown, table: string): void | Promise<void>;
  reset(db: unknown, table: string): void | Promise<void>;
  /** Records the events (times + 1 on a repeat), and the replaying flag of their context. */
  record(db: unknown, table: string, events: readonly StoredEvent[], context: ProjectionContext): void | Promise<void>;
  rows(store: EventStore<unknown>, table: string): Promise<Row[]>;
  /** Waits until the events appended are visible to a projection (PostgreSQL: see untilVisible). */
  settle(store: EventStore<unknown>): Promise<void>;
  cleanup(): Promise<void>;
}

type SeenTable = Pick<Backend, 'setup' | 'reset' | 'record' | 'rows'>;

const sqliteSeen: SeenTable = {
  setup: (db, table) => {
    (db as Database).exec(`CREATE TABLE IF NOT EXISTS ${table} (id TEXT PRIMARY KEY, position INTEGER, times INTEGER, replaying INTEGER)`);
  },
  reset: (db, table) => {
    (db as Database).exec(`DELETE FROM ${table}`);
  },
  record: (db, table, events, context) => {
    const insert = (db as Database).prepare(
      `INSERT INTO ${table} (id, position, times, replaying) VALUES (?, ?, 1, ?)
       ON CONFLICT (id) DO UPDATE SET times = times + 1, replaying = excluded.replaying`,
    );
    for (const e of events) insert.run(e.id, e.position, context.replaying ? 1 : 0);
  },
  rows: async (store, table) => (store.readModel as Database).prepare(`SELECT id, position, times, replaying FROM ${table} ORDER BY position`).all() as Row[],
};

const postgresSeen = (s: string): SeenTable => ({
  setup: async (db, table) => {
    await (db as pg.ClientBase).query(`CREATE TABLE IF NOT EXISTS "${s}".${table} (id text PRIMARY KEY, position bigint, times int, replaying int)`);
  },
  reset: async (db, table) => {
    await (db as pg.ClientBase).query(`DELETE FROM "${s}".${table}`);
  },
  record: async (db, table, events, context) => {
    await (db as pg.ClientBase).query(
      `INSERT INTO "${s}".${table} (id, position, times, replaying)
       SELECT id, position, 1, $3 FROM unnest($1::text[], $2::bigint[]) AS t(id, position)
       ON CONFLICT (id) DO UPDATE SET times = ${table}.times + 1, replaying = excluded.replaying`,
      [events.map((e) => e.id), events.map((e) => e.position), context.replaying ? 1 : 0],
    );
  },
  rows: async (store, table) =>
    (await (store.readModel as pg.Pool).query(`SELECT id, position::int AS position, times, replaying FROM "${s}".${table} ORDER BY position`)).rows as Row[],
});

/** A new place for a store of this kind, and its `seen` table's SQL. */
function backendOf(kind: StoreKind): Backend {
  const place = kind.place();
  const seen = kind.name === 'sqlite' ? sqliteSeen : postgresSeen(new URL(place.url).searchParams.get('schema') as string);
  return {
    name: kind.name,
    open: () => place.open({ create: true }),
    reopen: () => place.open({ create: false }),
    ...seen,
    settle: (store) => kind.settle(store),
    cleanup: () => place.drop(),
  };
}

interface Options {
  name?: string;
  /** A per-event projection instead of a set-based one. */
  perEvent?: boolean;
  poison?: (event: StoredEvent) => boolean;
  calls?: { count: number };
}

function projection(backend: Backend, options: Options = {}): Projection<unknown> {
  const name = options.name ?? 'tally';
  const table = `${name}_seen`;
  const check = (events: readonly StoredEvent[]): void => {
    const bad = events.find((e) => options.poison?.(e));
    if (bad) throw new Error(`poison: ${bad.id}`);
  };
  const common = {
    name,
    setup: (db: unknown) => backend.setup(db, table),
    reset: (db: unknown) => backend.reset(db, table),
  };
  const sync = backend.name === 'sqlite';
  const batch = sync
    ? (events: readonly StoredEvent[], db: unknown, context: ProjectionContext) => {
        if (options.calls) options.calls.count += 1;
        // Writes before it throws: the rollback must undo them.
        backend.record(db, table, events, context);
        check(events);
      }
    : async (events: readonly StoredEvent[], db: unknown, context: ProjectionContext) => {
        if (options.calls) options.calls.count += 1;
        await backend.record(db, table, events, context);
        check(events);
      };
  const handle = sync
    ? (event: StoredEvent, db: unknown, context: ProjectionContext) => {
        check([event]);
        backend.record(db, table, [event], context);
      }
    : async (event: StoredEvent, db: unknown, context: ProjectionContext) => {
        check([event]);
        await backend.record(db, table, [event], context);
      };
  const definition = options.perEvent ? { ...common, handlers: { '*': handle } } : { ...common, batch };
  return normalizeProjection<unknown>(definition, `${name}.ts`, name);
}

describe.each(storeKinds())('set-based projections on %s', (kind) => {
  const make = () => backendOf(kind);
  let backend: Backend;
  let store: EventStore<unknown>;
  let counter = 0;
  beforeEach(async () => {
    backend = make();
    store = await backend.open();
  });
  afterEach(async () => {
    await store.close();
    await backend.cleanup();
  });

  async function appendEvents(count: number, mark: (i: number) => Record<string, unknown> = () => ({})): Promise<StoredEvent[]> {
    counter += 1;
    const events: NewStreamEvent[] = Array.from({ length: count }, (_, i) => ({
      id: `e-${counter}-${String(i).padStart(4, '0')}`,
      streamId: `s-${i % 7}`,
      type: i % 2 ? 'Odd' : 'Even',
      data: { i, ...mark(i) },
    }));
    await store.appendMany(events);
    await backend.settle(store);
    return (await store.read({})).filter((e) => e.id.startsWith(`e-${counter}-`));
  }

  it('a poison event in the middle of a batch of 1,000: the fault names it, the 999 others are handled exactly once after the fix', async () => {
    const events = await appendEvents(1000, (i) => (i === 537 ? { poison: true } : {}));
    const poisoned = events[537]!;
    let fixed = false;
    const calls = { count: 0 };
    const options = { poison: (e: StoredEvent) => !fixed && e.data.poison === true, calls };
    const first = await runProjection(store, projection(backend, options), { batchSize: 1000 });
    expect(first.state).toBe('faulted');
    expect(first.error).toMatchObject({ eventId: poisoned.id, position: poisoned.position, type: 'Odd', message: `poison: ${poisoned.id}` });
    // The events before it committed; the poison event and those after it did not.
    const before = await backend.rows(store, 'tally_seen');
    expect(before.map((r) => r.id)).toEqual(events.slice(0, 537).map((e) => e.id));
    expect(before.every((r) => r.times === 1)).toBe(true);
    expect(first).toMatchObject({ processed: 537, to: events[536]!.position });
    // Bisection, not one call per event: the failed batch, about log2(1000) probes, the commit of the good part.
    expect(calls.count).toBeLessThanOrEqual(14);

    fixed = true;
    const second = await runProjection(store, projection(backend, options), { batchSize: 1000 });
    expect(second).toMatchObject({ state: 'up-to-date', processed: 463, error: null });
    const after = await backend.rows(store, 'tally_seen');
    expect(after.map((r) => r.id)).toEqual(events.map((e) => e.id));
    expect(after.every((r) => r.times === 1 && r.replaying === 0)).toBe(true);
  });

  it('with --on-error skip only the poison event is dead-lettered; the 999 others are handled exactly once', async () => {
    const events = await appendEvents(1000, (i) => (i === 400 ? { poison: true } : {}));
    const poisoned = events[400]!;
    const result = await runProjection(store, projection(backend, { poison: (e) => e.data.poison === true }), {
      batchSize: 1000,
      onError: 'skip',
    });
    expect(result).toMatchObject({ state: 'up-to-date', deadLettered: 1, processed: 999, error: null });
    const rows = await backend.rows(store, 'tally_seen');
    expect(rows.map((r) => r.id)).toEqual(events.filter((_, i) => i !== 400).map((e) => e.id));
    expect(rows.every((r) => r.times === 1)).toBe(true);
    const letters = await store.read({ streamId: '$deadletter-tally' });
    expect(letters).toHaveLength(1);
    expect(letters[0]!.data).toMatchObject({ projection: 'tally', event: { id: poisoned.id }, error: { eventId: poisoned.id } });
  });

  it('a poison event first in the batch, and one last: each is named exactly', async () => {
    for (const index of [0, 99]) {
      await store.close();
      await backend.cleanup();
      backend = make();
      store = await backend.open();
      const events = await appendEvents(100, (i) => (i === index ? { poison: true } : {}));
      const result = await runProjection(store, projection(backend, { poison: (e) => e.data.poison === true }), { batchSize: 100 });
      expect(result.error?.eventId, `index ${index}`).toBe(events[index]!.id);
      expect((await backend.rows(store, 'tally_seen')).length).toBe(index);
    }
  });

  for (const shape of ['batch', 'handlers'] as const) {
    const perEvent = shape === 'handlers';

    it(`${shape}: context.replaying is true for what rebuild hands over again, false for new events; the mark is dropped once passed`, async () => {
      const events = await appendEvents(30);
      const p = () => projection(backend, { perEvent });
      await runProjection(store, p(), { batchSize: 8 });
      expect((await backend.rows(store, 'tally_seen')).every((r) => r.replaying === 0)).toBe(true);
      const head = await store.head();

      const rebuilt = await rebuildProjection(store, p(), { batchSize: 8 });
      expect(rebuilt.state).toBe('up-to-date');
      const rows = await backend.rows(store, 'tally_seen');
      expect(rows.map((r) => r.id)).toEqual(events.map((e) => e.id));
      expect(rows.every((r) => r.replaying === 1 && r.times === 1)).toBe(true);
      const last = await store.lastEvent('$checkpoint-tally');
      expect(last?.data.position).toBe(head);
      expect(last?.data.replayingUntil).toBeUndefined();

      const more = await appendEvents(5);
      await runProjection(store, p(), { batchSize: 8 });
      const now = await backend.rows(store, 'tally_seen');
      expect(now.filter((r) => more.some((e) => e.id === r.id)).map((r) => r.replaying)).toEqual([0, 0, 0, 0, 0]);
    });

    it(`${shape}: replay-from replays up to where it had been; a batch straddling that point is split; it survives a restart`, async () => {
      const events = await appendEvents(40);
      const p = () => projection(backend, { perEvent });
      await runProjection(store, p(), { batchSize: 100 });
      const reached = (await store.lastEvent('$checkpoint-tally'))!.data.position as number;
      const more = await appendEvents(10);
      // Replay from the 21st event: 20 events replayed, then a first run stopped after one batch of 7.
      const from = events[20]!.position;
      const controller = new AbortController();
      let batches = -1;
      const stopped = await replayFrom(store, p(), from, {
        batchSize: 7,
        signal: controller.signal,
        onProgress: () => {
          batches += 1;
          if (batches >= 1) controller.abort();
        },
      });
      expect(stopped.interrupted).toBe(true);
      const mid = await store.lastEvent('$checkpoint-tally');
      expect(mid?.data.replayingUntil).toBe(reached);

      // A restart: a new store object, the mark read back from the checkpoint stream.
      await store.close();
      store = await backend.reopen();
      const rest = await runProjection(store, p(), { batchSize: 7 });
      expect(rest.state).toBe('up-to-date');
      const rows = new Map((await backend.rows(store, 'tally_seen')).map((r) => [r.id, r]));
      for (const e of events.slice(0, 20)) expect(rows.get(e.id)).toMatchObject({ times: 1, replaying: 0 });
      for (const e of events.slice(20)) expect(rows.get(e.id), e.id).toMatchObject({ times: 2, replaying: 1 });
      for (const e of more) expect(rows.get(e.id), e.id).toMatchObject({ times: 1, replaying: 0 });
      expect((await store.lastEvent('$checkpoint-tally'))?.data.replayingUntil).toBeUndefined();
    });
  }

  it('a throwing batch in the shared pass hands over to its own run, which names the event; the other projection is unaffected', async () => {
    const events = await appendEvents(200, (i) => (i === 120 ? { poison: true } : {}));
    const results = await runTogether(
      store,
      [projection(backend, { name: 'good' }), projection(backend, { name: 'bad', poison: (e) => e.data.poison === true })],
      { batchSize: 50 },
    );
    expect(results[0]).toMatchObject({ name: 'good', state: 'up-to-date', processed: 200 });
    expect(results[1]).toMatchObject({ name: 'bad', state: 'faulted', processed: 120, error: { eventId: events[120]!.id } });
    expect((await backend.rows(store, 'good_seen')).every((r) => r.times === 1)).toBe(true);
    expect((await backend.rows(store, 'bad_seen')).map((r) => r.id)).toEqual(events.slice(0, 120).map((e) => e.id));
  });
});

describe('set-based projections on SQLite must be synchronous', () => {
  it("a batch that returns a Promise faults at the batch's first event, and nothing of it is kept", async () => {
    const backend = backendOf(storeKinds().find((k) => k.name === 'sqlite') as StoreKind);
    const store = await backend.open();
    try {
      await store.appendMany([
        { streamId: 's', type: 'T', data: {}, id: 'x1' },
        { streamId: 's', type: 'T', data: {}, id: 'x2' },
      ]);
      const p = normalizeProjection<unknown>(
        {
          setup: (db: unknown) => backend.setup(db, 'async_seen'),
          async batch(events: readonly StoredEvent[], db: unknown) {
            backend.record(db, 'async_seen', events, { replaying: false });
          },
        },
        'async.ts',
        'async',
      );
      const result = await runProjection(store, p, { batchSize: 10 });
      expect(result.state).toBe('faulted');
      expect(result.error).toMatchObject({ eventId: 'x1', message: expect.stringContaining('must be synchronous') });
      expect(await backend.rows(store, 'async_seen')).toEqual([]);
    } finally {
      await store.close();
      await backend.cleanup();
    }
  });
});
