/**
 * The behaviour every EventStore must have, on every kind of store (see storeKinds): the log, batches
 * in the store's read order with their resume tokens, what is pending, atomic commit units with their
 * further events and fences, leases and the worker registry. Each case opens a fresh, empty store and
 * uses only the port's methods, plus `store.readModel` where a commit's `apply` needs a table.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewStreamEvent, StoredEvent } from '../../src/core/events.js';
import type { Batch, CommitUnit, EventStore, LockOwner, ReadPoint } from '../../src/ports/event-store.js';
import { storeKinds } from '../support/backends.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** A one-column table in the store's read model, written from inside `commit`'s apply. */
interface ScratchTable {
  setup(): Promise<void>;
  /** Inserts within the apply's transaction; synchronous for a synchronous store. */
  insert(db: unknown, id: string): void | Promise<void>;
  ids(): Promise<string[]>;
}

interface SqliteLike {
  prepare(sql: string): { run(...params: unknown[]): unknown; all(...params: unknown[]): unknown[] };
  exec(sql: string): unknown;
}
interface PgLike {
  query(sql: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

function scratchTable(store: EventStore<unknown>): ScratchTable {
  const table = `contract_${randomBytes(4).toString('hex')}`;
  const model = store.readModel as Partial<SqliteLike & PgLike> | null;
  if (model && typeof model.prepare === 'function' && typeof model.exec === 'function') {
    const db = model as SqliteLike;
    return {
      async setup() {
        db.exec(`CREATE TABLE IF NOT EXISTS ${table} (id TEXT PRIMARY KEY)`);
      },
      insert(tx, id) {
        (tx as SqliteLike).prepare(`INSERT INTO ${table} (id) VALUES (?)`).run(id);
      },
      async ids() {
        return (db.prepare(`SELECT id FROM ${table} ORDER BY id`).all() as { id: string }[]).map((r) => r.id);
      },
    };
  }
  if (model && typeof model.query === 'function') {
    const db = model as PgLike;
    return {
      async setup() {
        await db.query(`CREATE TABLE IF NOT EXISTS ${table} (id TEXT PRIMARY KEY)`);
      },
      async insert(tx, id) {
        await (tx as PgLike).query(`INSERT INTO ${table} (id) VALUES ($1)`, [id]);
      },
      async ids() {
        return (await db.query(`SELECT id FROM ${table} ORDER BY id`)).rows.map((r) => String(r.id));
      },
    };
  }
  throw new Error('store-contract: the read model is neither a better-sqlite3 Database nor a pg client');
}

/** An apply that inserts ids, then optionally throws; sync when the insert is sync. */
function inserting(table: ScratchTable, ids: string[], fail?: Error) {
  return (db: unknown): void | Promise<void> => {
    const results = ids.map((id) => table.insert(db, id));
    if (results.some((r) => r instanceof Promise)) {
      return Promise.all(results).then(() => {
        if (fail) throw fail;
      });
    }
    if (fail) throw fail;
  };
}

/** A mixed log: user streams s1..s3, a system stream `$sys`, the last event a system one. */
const PLAN: [string, string][] = [
  ['s1', 'A'],
  ['s2', 'B'],
  ['$sys', 'Tick'],
  ['s1', 'C'],
  ['s3', 'A'],
  ['$sys', 'Tick'],
  ['s2', 'B'],
  ['s1', 'A'],
  ['s3', 'C'],
  ['s2', 'B'],
  ['$sys', 'A'],
];

async function seed(store: EventStore<unknown>) {
  for (const [index, [streamId, type]] of PLAN.entries()) {
    await store.append(streamId, [{ type, data: { n: index } }]);
  }
  const all = await store.read({ includeSystem: true });
  const user = all.filter((e) => !e.streamId.startsWith('$'));
  const head = user[user.length - 1]!.position;
  return { all, user, head };
}

const positions = (events: readonly StoredEvent[]) => events.map((e) => e.position);
/** What every store's batch says; a store that reads in commit order adds its cursor besides. */
const shape = (batch: Batch) => ({ events: batch.events, scannedTo: batch.scannedTo });

describe.each(storeKinds())('EventStore contract: %s', (kind) => {
  let store: EventStore<unknown>;
  let cleanup: () => Promise<void>;

  beforeEach(async () => {
    ({ store, cleanup } = await kind.open());
  });
  /**
   * The mixed log, visible to reads once appended: on PostgreSQL reads stop below the oldest
   * transaction in flight on the server, and other test files keep some open (see StoreKind.settle).
   */
  const seeded = async () => {
    const seeds = await seed(store);
    await kind.settle(store);
    return seeds;
  };
  afterEach(async () => {
    await cleanup();
  });

  describe('append', () => {
    it('assigns strictly increasing positions and versions 1, 2, 3 per stream', async () => {
      const first = await store.append('a', [{ type: 'X' }, { type: 'Y' }]);
      const second = await store.append('b', [{ type: 'Z' }]);
      const third = await store.append('a', [{ type: 'W' }]);
      expect(first.version).toBe(2);
      expect(second.version).toBe(1);
      expect(third.version).toBe(3);
      expect(second.position).toBeGreaterThan(first.position);
      expect(third.position).toBeGreaterThan(second.position);

      const all = await store.read({});
      expect(all.map((e) => [e.streamId, e.version, e.type])).toEqual([
        ['a', 1, 'X'],
        ['a', 2, 'Y'],
        ['b', 1, 'Z'],
        ['a', 3, 'W'],
      ]);
      for (let i = 1; i < all.length; i++) expect(all[i]!.position).toBeGreaterThan(all[i - 1]!.position);
      expect(all[1]!.position).toBe(first.position);
      expect(all[3]!.position).toBe(third.position);
    });

    it('stores data, metadata, a UUID id when none is given and an ISO-8601 UTC time', async () => {
      await store.append('orders-1', [
        { type: 'Placed', data: { total: 12.5, lines: [{ sku: 'x', qty: 2 }] }, metadata: { user: 'u1' } },
        { type: 'Paid', id: 'my-own-id' },
      ]);
      const [placed, paid] = await store.read({ streamId: 'orders-1' });
      expect(placed!.id).toMatch(UUID);
      expect(placed!.data).toEqual({ total: 12.5, lines: [{ sku: 'x', qty: 2 }] });
      expect(placed!.metadata).toEqual({ user: 'u1' });
      expect(placed!.recordedAt).toMatch(ISO_UTC);
      expect(Math.abs(Date.parse(placed!.recordedAt) - Date.now())).toBeLessThan(60_000);
      expect(paid!.id).toBe('my-own-id');
      expect(paid!.data).toEqual({});
      expect(paid!.metadata).toEqual({});

      await store.append('orders-2', [{ type: 'Placed' }]);
      const ids = (await store.read({})).map((e) => e.id);
      expect(new Set(ids).size).toBe(3);
    });

    it('checks the expected version (a number, "any", "no-stream", 0 = no stream); a conflict stores nothing', async () => {
      await expect(store.append('s', [{ type: 'A' }], 'no-stream')).resolves.toMatchObject({ version: 1 });
      await expect(store.append('t', [{ type: 'A' }], 0)).resolves.toMatchObject({ version: 1 });
      await expect(store.append('s', [{ type: 'B' }], 1)).resolves.toMatchObject({ version: 2 });
      await expect(store.append('s', [{ type: 'C' }], 'any')).resolves.toMatchObject({ version: 3 });
      await expect(store.append('u', [{ type: 'A' }], 'any')).resolves.toMatchObject({ version: 1 });
      const head = await store.head();

      await expect(store.append('s', [{ type: 'D' }], 'no-stream')).rejects.toMatchObject({ code: 'CONFLICT' });
      await expect(store.append('s', [{ type: 'D' }], 0)).rejects.toMatchObject({ code: 'CONFLICT' });
      await expect(store.append('s', [{ type: 'D' }, { type: 'E' }], 2)).rejects.toMatchObject({ code: 'CONFLICT' });
      await expect(store.append('s', [{ type: 'D' }], 4)).rejects.toMatchObject({ code: 'CONFLICT' });
      await expect(store.append('new', [{ type: 'D' }], 1)).rejects.toMatchObject({ code: 'CONFLICT' });

      expect(await store.head()).toBe(head);
      expect((await store.read({ streamId: 's' })).map((e) => e.type)).toEqual(['A', 'B', 'C']);
      expect(await store.read({ streamId: 'new' })).toEqual([]);
      expect(await store.lastEvent('new')).toBeUndefined();
    });
  });

  describe('read, head and lastEvent', () => {
    it('reads all events in position order, or one stream in version order, with from and limit', async () => {
      const { user } = await seeded();
      expect(positions(await store.read({}))).toEqual(positions(user));
      expect(positions(await store.read({ from: user[2]!.position }))).toEqual(positions(user.slice(2)));
      expect(positions(await store.read({ from: user[2]!.position, limit: 2 }))).toEqual(positions(user.slice(2, 4)));
      expect(positions(await store.read({ limit: 3 }))).toEqual(positions(user.slice(0, 3)));
      expect(await store.read({ from: user[user.length - 1]!.position + 100 })).toEqual([]);

      const s1 = await store.read({ streamId: 's1' });
      expect(s1.map((e) => [e.streamId, e.version, e.type])).toEqual([
        ['s1', 1, 'A'],
        ['s1', 2, 'C'],
        ['s1', 3, 'A'],
      ]);
      expect((await store.read({ streamId: 's1', from: s1[1]!.position })).map((e) => e.version)).toEqual([2, 3]);
      expect((await store.read({ streamId: 's1', limit: 1 })).map((e) => e.version)).toEqual([1]);
      expect(await store.read({ streamId: 'nope' })).toEqual([]);
    });

    it('readPages gives what read gives, page by page, for every option and page size', async () => {
      const { user, all } = await seeded();
      const collect = async (options: Parameters<typeof store.read>[0], size: number) => {
        const pages: StoredEvent[][] = [];
        for await (const page of store.readPages(options, size)) pages.push(page);
        return pages;
      };
      const mid = user[2]!.position;
      const optionSets = [
        {},
        { includeSystem: true },
        { from: mid },
        { from: mid, limit: 3 },
        { limit: 0 },
        { streamId: 's1' },
        { streamId: '$sys', from: all[1]!.position },
        { streamId: 's1', limit: 2 },
        { streamId: 'nope' },
      ];
      for (const options of optionSets) {
        for (const size of [1, 2, 3, 1000]) {
          const pages = await collect(options, size);
          const label = JSON.stringify({ options, size });
          expect(pages.flat(), label).toEqual(await store.read(options));
          expect(
            pages.every((page) => page.length >= 1 && page.length <= size),
            label,
          ).toBe(true);
        }
      }
      // A caller that stops after the first page reads no further.
      for await (const page of store.readPages({}, 2)) {
        expect(positions(page)).toEqual(positions(user.slice(0, 2)));
        break;
      }
    });

    it('hides system streams unless asked for or named; lastEvent sees them', async () => {
      const { all } = await seeded();
      expect((await store.read({})).some((e) => e.streamId.startsWith('$'))).toBe(false);
      const withSystem = await store.read({ includeSystem: true });
      expect(withSystem).toHaveLength(PLAN.length);
      expect(withSystem.filter((e) => e.streamId === '$sys')).toHaveLength(3);
      expect(positions(withSystem)).toEqual(positions(all));
      const named = await store.read({ streamId: '$sys' });
      expect(named.map((e) => [e.type, e.version])).toEqual([
        ['Tick', 1],
        ['Tick', 2],
        ['A', 3],
      ]);

      expect(await store.lastEvent('missing')).toBeUndefined();
      const s2 = all.filter((e) => e.streamId === 's2');
      expect(await store.lastEvent('s2')).toEqual(s2[s2.length - 1]);
      expect(await store.lastEvent('$sys')).toEqual(named[2]);
    });

    it('head is 0 on an empty store and ignores system-stream events', async () => {
      expect(await store.head()).toBe(0);
      await store.append('$checkpoint-x', [{ type: 'Checkpoint', data: { position: 0 } }]);
      expect(await store.head()).toBe(0);
      const { position } = await store.append('user', [{ type: 'A' }]);
      expect(await store.head()).toBe(position);
      await store.append('$checkpoint-x', [{ type: 'Checkpoint', data: { position } }]);
      expect(await store.head()).toBe(position);
    });
  });

  describe('readBatch', () => {
    it('with types null returns user events in position order up to the limit; scannedTo follows', async () => {
      const { user, head } = await seeded();
      const whole = await store.readBatch({ after: 0, types: null, limit: 100 });
      expect(whole.events).toEqual(user);
      expect(whole.scannedTo).toBe(head);

      const first = await store.readBatch({ after: 0, types: null, limit: 3 });
      expect(positions(first.events)).toEqual(positions(user.slice(0, 3)));
      expect(first.scannedTo).toBe(user[2]!.position); // full: its last event
      const second = await store.readBatch({ after: first.scannedTo, types: null, limit: 3 });
      expect(positions(second.events)).toEqual(positions(user.slice(3, 6)));
      const rest = await store.readBatch({ after: second.scannedTo, types: null, limit: 3 });
      expect(positions(rest.events)).toEqual(positions(user.slice(6)));
      expect(rest.scannedTo).toBe(head); // not full: the head
      expect(shape(await store.readBatch({ after: head, types: null, limit: 3 }))).toEqual({ events: [], scannedTo: head });
    });

    it('with one type returns only that type and, when not full, scans to the head', async () => {
      const { user, head } = await seeded();
      const cs = user.filter((e) => e.type === 'C');
      const batch = await store.readBatch({ after: 0, types: ['C'], limit: 100 });
      expect(positions(batch.events)).toEqual(positions(cs));
      // The last C is before the head: a sparse reader must still advance past the skipped events.
      expect(cs[cs.length - 1]!.position).toBeLessThan(head);
      expect(batch.scannedTo).toBe(head);

      const full = await store.readBatch({ after: 0, types: ['C'], limit: 1 });
      expect(positions(full.events)).toEqual([cs[0]!.position]);
      expect(full.scannedTo).toBe(cs[0]!.position);
      const next = await store.readBatch({ after: full.scannedTo, types: ['C'], limit: 1 });
      expect(positions(next.events)).toEqual([cs[1]!.position]);
    });

    it('with several types merges them in position order and respects the limit', async () => {
      const { user, head } = await seeded();
      const ac = user.filter((e) => e.type === 'A' || e.type === 'C');
      const all = await store.readBatch({ after: 0, types: ['C', 'A'], limit: 100 });
      expect(positions(all.events)).toEqual(positions(ac));
      expect(all.scannedTo).toBe(head);
      const two = await store.readBatch({ after: 0, types: ['C', 'A'], limit: 2 });
      expect(positions(two.events)).toEqual(positions(ac.slice(0, 2)));
      expect(two.scannedTo).toBe(ac[1]!.position);
      const more = await store.readBatch({ after: two.scannedTo, types: ['A', 'C'], limit: 2 });
      expect(positions(more.events)).toEqual(positions(ac.slice(2, 4)));
      const bs = await store.readBatch({ after: 0, types: ['B', 'Missing'], limit: 100 });
      expect(bs.events.map((e) => e.type)).toEqual(['B', 'B', 'B']);

      // One type fills the whole limit before the other begins.
      for (let i = 0; i < 6; i++) await store.append('early', [{ type: 'Early', data: { i } }]);
      for (let i = 0; i < 6; i++) await store.append('late', [{ type: 'Late', data: { i } }]);
      await kind.settle(store);
      const batch = await store.readBatch({ after: head, types: ['Late', 'Early'], limit: 4 });
      expect(batch.events.map((e) => [e.type, e.data.i])).toEqual([
        ['Early', 0],
        ['Early', 1],
        ['Early', 2],
        ['Early', 3],
      ]);
      expect(batch.scannedTo).toBe(batch.events[3]!.position);
    });

    it('stops at maxBytes of data and metadata: the first event always, a batch cut there counts as full, nothing is lost', async () => {
      const sizes = [10, 3000, 10, 5000, 10];
      for (const [i, size] of sizes.entries()) await store.append(`big-${i % 2}`, [{ type: i % 2 ? 'Odd' : 'Even', data: { i, pad: 'x'.repeat(size) } }]);
      await kind.settle(store);
      const head = await store.head();
      const groups = async (types: readonly string[] | null, maxBytes: number): Promise<number[][]> => {
        const found: number[][] = [];
        let after = 0;
        for (let round = 0; round < 10; round++) {
          const batch = await store.readBatch({ after, types, limit: 100, maxBytes });
          if (batch.events.length > 0) found.push(batch.events.map((e) => e.data.i as number));
          if (batch.scannedTo <= after) break;
          after = batch.scannedTo;
        }
        expect(after, JSON.stringify({ types, maxBytes })).toBe(head);
        return found;
      };
      expect(await groups(null, 2500)).toEqual([[0, 1], [2, 3], [4]]);
      expect(await groups(null, 1)).toEqual([[0], [1], [2], [3], [4]]);
      expect(await groups(['Even'], 1)).toEqual([[0], [2], [4]]);
      expect(await groups(['Odd', 'Even'], 2500)).toEqual([[0, 1], [2, 3], [4]]);
      expect(await groups(null, 100_000)).toEqual([[0, 1, 2, 3, 4]]);
      const pages: number[][] = [];
      for await (const page of store.readPages({}, 100, 2500)) pages.push(page.map((e) => e.data.i as number));
      expect(pages).toEqual([[0, 1], [2, 3], [4]]);
      const streamPages: number[][] = [];
      for await (const page of store.readPages({ streamId: 'big-0' }, 100, 1)) streamPages.push(page.map((e) => e.data.i as number));
      expect(streamPages).toEqual([[0], [2], [4]]);
      await expect(store.readBatch({ after: 0, types: null, limit: 10, maxBytes: 0 })).rejects.toMatchObject({ code: 'USAGE' });
    });

    it('never returns system events, even of a requested type; an empty store scans to 0', async () => {
      expect(shape(await store.readBatch({ after: 0, types: null, limit: 10 }))).toEqual({ events: [], scannedTo: 0 });
      expect(shape(await store.readBatch({ after: 0, types: ['A', 'B'], limit: 10 }))).toEqual({ events: [], scannedTo: 0 });
      const { head } = await seeded();
      expect(shape(await store.readBatch({ after: 0, types: ['Tick'], limit: 100 }))).toEqual({ events: [], scannedTo: head });
      const as = await store.readBatch({ after: 0, types: ['A'], limit: 100 });
      expect(as.events).toHaveLength(3);
      expect(as.events.every((e) => !e.streamId.startsWith('$'))).toBe(true);
    });

    it('never reports scannedTo past an event of its types that it did not return', async () => {
      const { user } = await seeded();
      const typeSets: (string[] | null)[] = [null, ['A'], ['C'], ['A', 'B'], ['A', 'B', 'C']];
      for (const types of typeSets) {
        const wanted = user.filter((e) => types === null || types.includes(e.type));
        for (const after of [0, ...positions(user)]) {
          for (let limit = 0; limit <= 4; limit++) {
            let batch: Batch;
            try {
              batch = await store.readBatch({ after, types, limit });
            } catch (error) {
              expect(limit, 'only a zero limit may be refused').toBe(0);
              expect(error).toMatchObject({ code: 'USAGE' });
              continue;
            }
            const label = JSON.stringify({ types, after, limit });
            const skipped = wanted.filter((e) => e.position > after && e.position <= batch.scannedTo);
            expect(positions(batch.events), label).toEqual(positions(skipped));
            expect(batch.events.length, label).toBeLessThanOrEqual(limit);
            expect(batch.scannedTo, label).toBeGreaterThanOrEqual(after);
          }
        }
      }
    });
  });

  describe('pending', () => {
    it('counts the events a reader would still process and dates the oldest of them', async () => {
      expect(await store.pending({ after: 0, types: null })).toEqual({ count: 0, oldestRecordedAt: null });
      expect(await store.pending({ after: 0, types: ['A'] })).toEqual({ count: 0, oldestRecordedAt: null });
      const { user, head } = await seeded();
      expect(await store.pending({ after: 0, types: null })).toEqual({ count: user.length, oldestRecordedAt: user[0]!.recordedAt });
      const after = user[3]!.position;
      const as = user.filter((e) => e.type === 'A' && e.position > after);
      expect(await store.pending({ after: after, types: ['A'] })).toEqual({ count: as.length, oldestRecordedAt: as[0]!.recordedAt });
      expect((await store.pending({ after: 0, types: ['B', 'C'] })).count).toBe(user.filter((e) => e.type !== 'A').length);
      expect(await store.pending({ after: head, types: null })).toEqual({ count: 0, oldestRecordedAt: null });
      // `$sys` holds a Tick and an 'A' after the head: neither counts.
      expect(await store.pending({ after: head, types: ['A', 'Tick'] })).toEqual({ count: 0, oldestRecordedAt: null });
    });
  });

  describe('commit', () => {
    it('applies read-model writes and appends one event with the expected version', async () => {
      const table = scratchTable(store);
      await table.setup();
      const one = await store.commit({
        apply: inserting(table, ['a', 'b']),
        streamId: '$checkpoint-p',
        expectedVersion: 'no-stream',
        event: { type: 'Checkpoint', data: { position: 7, version: 1 } },
      });
      expect(one.version).toBe(1);
      const two = await store.commit({
        streamId: '$checkpoint-p',
        expectedVersion: 1,
        event: { type: 'Checkpoint', data: { position: 9, version: 1 } },
      });
      expect(two.version).toBe(2);
      expect(two.position).toBeGreaterThan(one.position);
      expect(await table.ids()).toEqual(['a', 'b']);
      expect(await store.lastEvent('$checkpoint-p')).toMatchObject({
        position: two.position,
        version: 2,
        type: 'Checkpoint',
        data: { position: 9, version: 1 },
      });
    });

    it('is all or nothing: an apply that throws or a conflicting expected version leaves nothing written', async () => {
      await store.append('user', [{ type: 'A' }]);
      const table = scratchTable(store);
      await table.setup();
      const head = await store.head();
      await expect(
        store.commit({
          apply: inserting(table, ['x', 'y'], new Error('handler exploded')),
          streamId: '$checkpoint-p',
          expectedVersion: 'no-stream',
          event: { type: 'Checkpoint', data: { position: 1 } },
        }),
      ).rejects.toThrow('handler exploded');
      expect(await table.ids()).toEqual([]);
      expect(await store.lastEvent('$checkpoint-p')).toBeUndefined();
      expect(await store.read({ includeSystem: true })).toHaveLength(1);
      expect(await store.head()).toBe(head);

      await store.append('$checkpoint-p', [{ type: 'Checkpoint', data: { position: 0 } }]);
      for (const expectedVersion of ['no-stream', 0, 3] as const) {
        await expect(
          store.commit({
            apply: inserting(table, [`lost-${expectedVersion}`]),
            streamId: '$checkpoint-p',
            expectedVersion,
            event: { type: 'Checkpoint', data: { position: 5 } },
          }),
        ).rejects.toMatchObject({ code: 'CONFLICT' });
      }
      expect(await table.ids()).toEqual([]);
      expect(await store.read({ streamId: '$checkpoint-p' })).toHaveLength(1);
    });

    it('trims the stream to its last `keep` events, never reusing positions', async () => {
      let expected: number | 'no-stream' = 'no-stream';
      const seen: number[] = [];
      for (let i = 1; i <= 25; i++) {
        const result = await store.commit({
          streamId: '$checkpoint-p',
          expectedVersion: expected,
          event: { type: 'Checkpoint', data: { position: i } },
          keep: 10,
        });
        expect(result.version).toBe(i);
        expected = result.version;
        seen.push(result.position);
        const kept = await store.read({ streamId: '$checkpoint-p' });
        expect(kept.length).toBe(Math.min(i, 10));
        expect(kept[kept.length - 1]).toMatchObject({ version: i, data: { position: i } });
      }
      const kept = await store.read({ streamId: '$checkpoint-p' });
      expect(kept.map((e) => e.version)).toEqual([16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
      expect(positions(kept)).toEqual(seen.slice(15));

      const one = await store.commit({
        streamId: '$checkpoint-p',
        expectedVersion: 25,
        event: { type: 'Checkpoint', data: { position: 26 } },
        keep: 1,
      });
      expect(await store.read({ streamId: '$checkpoint-p' })).toEqual([await store.lastEvent('$checkpoint-p')]);
      expect(one.version).toBe(26);
      const next = await store.append('user', [{ type: 'A' }]);
      expect(next.position).toBeGreaterThan(Math.max(...seen, one.position));
    });

    it('never removes the last event, even with keep 0 (or refuses keep 0 as a usage error)', async () => {
      let result: { position: number; version: number } | undefined;
      try {
        result = await store.commit({
          streamId: '$checkpoint-p',
          expectedVersion: 'no-stream',
          event: { type: 'Checkpoint', data: { position: 3 } },
          keep: 0,
        });
      } catch (error) {
        expect(error).toMatchObject({ code: 'USAGE' });
        return;
      }
      expect(await store.lastEvent('$checkpoint-p')).toMatchObject({
        position: result.position,
        version: result.version,
        data: { position: 3 },
      });
    });
  });

  describe('appendMany', () => {
    it('appends events of many streams, continuing each stream’s versions', async () => {
      await store.append('a', [{ type: 'Old' }]);
      const result = await store.appendMany([
        { streamId: 'a', type: 'X', data: { k: 1 } },
        { streamId: 'b', type: 'Y' },
        { streamId: 'a', type: 'Z', metadata: { m: true } },
      ]);
      expect(result).toMatchObject({ appended: 3, skipped: 0 });
      const all = await store.read({});
      expect(all.map((e) => [e.streamId, e.version, e.type])).toEqual([
        ['a', 1, 'Old'],
        ['a', 2, 'X'],
        ['b', 1, 'Y'],
        ['a', 3, 'Z'],
      ]);
      expect(result.lastPosition).toBe(all[3]!.position);
      expect(all[1]!.data).toEqual({ k: 1 });
      expect(all[3]!.metadata).toEqual({ m: true });
      expect(all.every((e) => UUID.test(e.id))).toBe(true);
    });

    it('skips events whose id is stored already with the same content (in an earlier call or the same one)', async () => {
      const batch = [
        { id: 'e-1', streamId: 'a', type: 'X', data: { x: 1, nested: { p: 1, q: [1, 2] } }, metadata: { src: 'f' } },
        { id: 'e-2', streamId: 'b', type: 'Y', data: { y: 2 } },
        { id: 'e-2', streamId: 'b', type: 'Y', data: { y: 2 } },
      ];
      expect(await store.appendMany(batch)).toMatchObject({ appended: 2, skipped: 1 });
      const reordered = [
        { id: 'e-2', streamId: 'b', type: 'Y', data: { y: 2 }, metadata: {} },
        { id: 'e-1', streamId: 'a', type: 'X', data: { nested: { q: [1, 2], p: 1 }, x: 1 }, metadata: { src: 'f' } },
      ];
      expect(await store.appendMany(reordered)).toEqual({ appended: 0, skipped: 2, lastPosition: null });
      const again = await store.appendMany([...batch, { id: 'e-3', streamId: 'a', type: 'X' }]);
      expect(again).toMatchObject({ appended: 1, skipped: 3 });
      const all = await store.read({});
      expect(all.map((e) => e.id)).toEqual(['e-1', 'e-2', 'e-3']);
      expect(again.lastPosition).toBe(all[2]!.position);
      expect(all[2]!.version).toBe(2);
    });

    it('refuses an id stored with different content (USAGE, details.index) and stores nothing of the call', async () => {
      await store.appendMany([{ id: 'e-1', streamId: 'a', type: 'X', data: { x: 1 } }]);
      const variants = [
        { id: 'e-1', streamId: 'a', type: 'X', data: { x: 2 } },
        { id: 'e-1', streamId: 'a', type: 'Other', data: { x: 1 } },
        { id: 'e-1', streamId: 'elsewhere', type: 'X', data: { x: 1 } },
        { id: 'e-1', streamId: 'a', type: 'X', data: { x: 1 }, metadata: { changed: true } },
      ];
      for (const variant of variants) {
        const call = store.appendMany([
          { streamId: 'new-stream', type: 'Fresh' },
          { id: 'e-new', streamId: 'a', type: 'X' },
          variant,
          { streamId: 'after', type: 'Never' },
        ]);
        await expect(call).rejects.toMatchObject({ code: 'USAGE', details: { index: 2 } });
      }
      const all = await store.read({ includeSystem: true });
      expect(all.map((e) => e.id)).toEqual(['e-1']);
      expect(await store.head()).toBe(all[0]!.position);
    });
  });

  describe('importEvents: awaited chunks in one transaction', () => {
    async function* chunks(...parts: NewStreamEvent[][]): AsyncGenerator<NewStreamEvent[]> {
      for (const part of parts) {
        await new Promise((resolve) => setTimeout(resolve, 1));
        yield part;
      }
    }

    it('appends chunks as they come, continuing versions and skipping ids seen in an earlier chunk', async () => {
      await store.append('a', [{ type: 'Old' }]);
      const result = await store.importEvents(
        chunks(
          [
            { id: 'i-1', streamId: 'a', type: 'X' },
            { streamId: 'b', type: 'Y' },
          ],
          [],
          [
            { id: 'i-1', streamId: 'a', type: 'X', data: {} },
            { streamId: 'a', type: 'Z' },
          ],
        ),
      );
      expect(result).toMatchObject({ appended: 3, skipped: 1 });
      const all = await store.read({});
      expect(all.map((e) => [e.streamId, e.version, e.type])).toEqual([
        ['a', 1, 'Old'],
        ['a', 2, 'X'],
        ['b', 1, 'Y'],
        ['a', 3, 'Z'],
      ]);
      expect(result.lastPosition).toBe(all[3]!.position);
    });

    it('keeps nothing when the source throws after some chunks, and the store works afterwards', async () => {
      await store.append('seed', [{ type: 'Seeded' }]);
      const before = await store.read({ includeSystem: true });
      async function* failing() {
        yield [{ streamId: 'a', type: 'X' }];
        await new Promise((resolve) => setTimeout(resolve, 1));
        yield [{ streamId: 'b', type: 'Y' }];
        throw new Error('line 9000: the source broke');
      }
      await expect(store.importEvents(failing())).rejects.toThrow('the source broke');
      expect(await store.read({ includeSystem: true })).toEqual(before);
      await store.append('after', [{ type: 'Works' }]);
      expect(await store.importEvents(chunks([{ streamId: 'c', type: 'Z' }]))).toMatchObject({ appended: 1 });
    });

    it('refuses a changed id in a later chunk, naming its index over all chunks and the event given', async () => {
      await store.appendMany([{ id: 'e-1', streamId: 'a', type: 'X', data: { x: 1 } }]);
      const changed = { id: 'e-1', streamId: 'a', type: 'X', data: { x: 2 }, line: 7 };
      const call = store.importEvents(
        chunks(
          [
            { streamId: 'n', type: 'A' },
            { streamId: 'n', type: 'B' },
          ],
          [{ streamId: 'n', type: 'C' }, changed],
        ),
      );
      await expect(call).rejects.toMatchObject({ code: 'USAGE', details: { index: 3, event: changed } });
      expect((await store.read({})).map((e) => e.id)).toEqual(['e-1']);
    });

    it('refuses control characters in stream ids and types, in append and importEvents alike', async () => {
      for (const [streamId, type] of [
        ['a\u0007b', 'X'],
        ['a', 'X\u001b[2J'],
        ['a\u007f', 'X'],
        ['a', '\u0085X'],
        ['a\nb', 'X'],
      ]) {
        await expect(store.append(streamId!, [{ type: type! }])).rejects.toMatchObject({
          code: 'USAGE',
          message: expect.stringMatching(/control character \(\\x[0-9a-f]{2}\)/),
        });
        await expect(
          store.importEvents(
            chunks([
              { streamId: 'fine', type: 'Fine' },
              { streamId: streamId!, type: type! },
            ]),
          ),
        ).rejects.toMatchObject({
          code: 'USAGE',
          details: { index: 1 },
        });
      }
      expect(await store.read({ includeSystem: true })).toEqual([]);
      await store.append('café-Ω', [{ type: 'Ünïcode ok' }]);
    });

    it('takes event ids up to 1024 UTF-8 bytes and refuses longer ones, in append and importEvents alike', async () => {
      const longest = '\u00e9'.repeat(512);
      const over = `${longest}x`;
      await expect(store.append('ids', [{ type: 'X', id: over }])).rejects.toMatchObject({
        code: 'USAGE',
        message: expect.stringMatching(/1025 bytes long; an event id is at most 1024 bytes/),
      });
      await expect(
        store.importEvents(
          chunks([
            { streamId: 'ids', type: 'X' },
            { streamId: 'ids', type: 'X', id: over },
          ]),
        ),
      ).rejects.toMatchObject({
        code: 'USAGE',
        details: { index: 1 },
      });
      expect(await store.read({ includeSystem: true })).toEqual([]);
      await store.append('ids', [{ type: 'X', id: longest }]);
      expect((await store.read({})).map((e) => e.id)).toEqual([longest]);
    });
  });

  describe('readBatch: the read order and resume tokens', () => {
    /** Every batch from `from` on, each read from where the one before left off (its scannedTo and token). */
    async function walk(from: ReadPoint, types: readonly string[] | null, limit: number): Promise<Batch[]> {
      const batches: Batch[] = [];
      let point = from;
      for (let round = 0; round < 100; round++) {
        const batch = await store.readBatch({ ...point, types, limit });
        batches.push(batch);
        if (batch.events.length === 0 && batch.scannedTo <= point.after) return batches;
        point = { after: batch.scannedTo, resume: batch.resume };
      }
      throw new Error('the reads never came to an end');
    }

    it("batch after batch, each from the last one's scannedTo and token, gives every event once, in position order", async () => {
      const { user, head } = await seeded();
      for (const types of [null, ['A'], ['B', 'C'], ['Tick']]) {
        const wanted = user.filter((e) => types === null || types.includes(e.type));
        for (const limit of [1, 2, 3, 100]) {
          const label = JSON.stringify({ types, limit });
          const batches = await walk({ after: 0 }, types, limit);
          expect(positions(batches.flatMap((b) => b.events)), label).toEqual(positions(wanted));
          expect(
            batches.every((b) => b.events.length <= limit),
            label,
          ).toBe(true);
          expect(batches.at(-1)!.scannedTo, label).toBe(head);
        }
      }
    });

    it("resumeAfter(i) resumes just past the batch's event i; tokens read the same after a trip through JSON (a checkpoint)", async () => {
      const { user } = await seeded();
      const saved = <T>(token: T): T => (token === undefined ? token : JSON.parse(JSON.stringify(token)));
      const batch = await store.readBatch({ after: 0, types: null, limit: 100 });
      expect(batch.events).toEqual(user);
      for (let i = 0; i < batch.events.length; i++) {
        const point = { after: batch.events[i]!.position, resume: saved(batch.resumeAfter(i)) };
        const next = await store.readBatch({ ...point, types: null, limit: 100 });
        expect(positions(next.events), `after event ${i}`).toEqual(positions(user.slice(i + 1)));
      }
      const part = await store.readBatch({ after: 0, types: ['A'], limit: 2 });
      const rest = await store.readBatch({ after: part.scannedTo, resume: saved(part.resume), types: ['A'], limit: 100 });
      expect(positions([...part.events, ...rest.events])).toEqual(positions(user.filter((e) => e.type === 'A')));
    });

    it('without a token, a read starts after the position it is given (a first batch, a replay-from)', async () => {
      const { all, user } = await seeded();
      for (const event of all) {
        const batch = await store.readBatch({ after: event.position, types: null, limit: 100 });
        expect(positions(batch.events), `after ${event.position}`).toEqual(positions(user.filter((e) => e.position > event.position)));
      }
      // One below an event's position (a replay-from names the first event to handle again).
      const from = user[3]!.position;
      expect(positions((await store.readBatch({ after: from - 1, types: null, limit: 100 })).events)).toEqual(positions(user.slice(3)));
    });

    it('the token of a read that found nothing reads on from there once events come', async () => {
      await seeded();
      const end = (await walk({ after: 0 }, null, 4)).at(-1)!;
      expect(end.events).toEqual([]);
      const { position } = await store.append('later', [{ type: 'A' }, { type: 'B' }]);
      await kind.settle(store);
      const more = await store.readBatch({ after: end.scannedTo, resume: end.resume, types: null, limit: 100 });
      expect(more.events.map((e) => [e.streamId, e.version])).toEqual([
        ['later', 1],
        ['later', 2],
      ]);
      expect(more.scannedTo).toBe(position);
    });
  });

  describe('pending: a bound and a resume token', () => {
    it('with upTo counts only the events at or below it', async () => {
      const { user, head } = await seeded();
      const at = (i: number) => user[i]!.position;
      expect(await store.pending({ after: 0, types: null, upTo: at(4) })).toEqual({ count: 5, oldestRecordedAt: user[0]!.recordedAt });
      expect(await store.pending({ after: at(1), types: null, upTo: at(4) })).toEqual({ count: 3, oldestRecordedAt: user[2]!.recordedAt });
      const as = user.filter((e) => e.type === 'A' && e.position <= at(6));
      expect(await store.pending({ after: 0, types: ['A'], upTo: at(6) })).toEqual({ count: as.length, oldestRecordedAt: as[0]!.recordedAt });
      expect((await store.pending({ after: 0, types: ['B', 'C'], upTo: at(3) })).count).toBe(2);
      expect(await store.pending({ after: at(4), types: null, upTo: at(4) })).toEqual({ count: 0, oldestRecordedAt: null });
      expect(await store.pending({ after: at(4), types: null, upTo: at(2) })).toEqual({ count: 0, oldestRecordedAt: null });
      expect((await store.pending({ after: 0, types: null, upTo: head + 100 })).count).toBe(user.length);
      // A bound at a system event's position (a checkpoint's) counts the user events below it.
      const tick = (await store.read({ includeSystem: true })).find((e) => e.streamId === '$sys')!;
      expect((await store.pending({ after: 0, types: null, upTo: tick.position })).count).toBe(user.filter((e) => e.position < tick.position).length);
    });

    it("from a batch's scannedTo and token, counts what reads from there return (with and without a bound)", async () => {
      const { user } = await seeded();
      const bound = user[5]!.position;
      for (const types of [null, ['A'], ['B', 'C']]) {
        let point: ReadPoint = { after: 0 };
        for (let round = 0; round < 20; round++) {
          const rest = user.filter((e) => e.position > point.after && (types === null || types.includes(e.type)));
          const label = JSON.stringify({ types, after: point.after });
          expect(await store.pending({ ...point, types }), label).toEqual({ count: rest.length, oldestRecordedAt: rest[0]?.recordedAt ?? null });
          const below = rest.filter((e) => e.position <= bound);
          expect((await store.pending({ ...point, types, upTo: bound })).count, label).toBe(below.length);
          const batch = await store.readBatch({ ...point, types, limit: 2 });
          if (batch.events.length === 0) break;
          point = { after: batch.scannedTo, resume: batch.resume };
        }
      }
    });
  });

  describe('commit: further events and fences', () => {
    const checkpoint = (position: number) => ({ type: 'Checkpoint', data: { position } });
    const owner = (id: string): LockOwner => ({ id, pid: 4242, host: 'h', since: '2026-01-01T00:00:00.000Z' });
    const never = () => false;

    it('appends the `also` events in the same transaction, with or without an expected version, each trimmed to its `keep`', async () => {
      const table = scratchTable(store);
      await table.setup();
      await store.append('$checkpoint-other', [checkpoint(0)]);
      const head = await store.head();
      const result = await store.commit({
        apply: inserting(table, ['a']),
        streamId: '$checkpoint-p',
        expectedVersion: 'no-stream',
        event: checkpoint(3),
        also: [
          { streamId: '$deadletter-p', event: { type: 'DeadLetter', data: { n: 1 } } },
          { streamId: '$checkpoint-other', event: checkpoint(3), expectedVersion: 1, keep: 1 },
        ],
      });
      expect(result.version).toBe(1);
      expect(await store.lastEvent('$checkpoint-p')).toMatchObject({ position: result.position, version: 1, data: { position: 3 } });
      expect(await table.ids()).toEqual(['a']);
      expect(await store.read({ streamId: '$deadletter-p' })).toMatchObject([{ version: 1, type: 'DeadLetter', data: { n: 1 } }]);
      expect(await store.read({ streamId: '$checkpoint-other' })).toMatchObject([{ version: 2, data: { position: 3 } }]);
      // A dead letter, without an expected version, goes after whatever its stream holds.
      await store.commit({
        streamId: '$checkpoint-p',
        expectedVersion: 1,
        event: checkpoint(4),
        also: [{ streamId: '$deadletter-p', event: { type: 'DeadLetter', data: { n: 2 } } }],
      });
      expect((await store.read({ streamId: '$deadletter-p' })).map((e) => [e.version, e.data.n])).toEqual([
        [1, 1],
        [2, 2],
      ]);
      // System events all: the head does not move.
      expect(await store.head()).toBe(head);
    });

    it('a conflicting expected version of an `also` event writes nothing of the unit', async () => {
      const table = scratchTable(store);
      await table.setup();
      await store.append('$checkpoint-other', [checkpoint(0)]);
      await expect(
        store.commit({
          apply: inserting(table, ['x']),
          streamId: '$checkpoint-p',
          expectedVersion: 'no-stream',
          event: checkpoint(3),
          also: [
            { streamId: '$deadletter-p', event: { type: 'DeadLetter', data: {} } },
            { streamId: '$checkpoint-other', event: checkpoint(3), expectedVersion: 5 },
          ],
        }),
      ).rejects.toMatchObject({ code: 'CONFLICT' });
      expect(await table.ids()).toEqual([]);
      expect(await store.lastEvent('$checkpoint-p')).toBeUndefined();
      expect(await store.read({ streamId: '$deadletter-p' })).toEqual([]);
      expect(await store.read({ streamId: '$checkpoint-other' })).toHaveLength(1);
    });

    it('commits while every fence holds; one taken over or released since refuses the whole unit (LOCKED, fenced) before its apply runs', async () => {
      const table = scratchTable(store);
      await table.setup();
      const p = await store.tryLease('p', owner('a'), 30_000, never);
      const q = await store.tryLease('q', owner('a'), 30_000, never);
      if (!p.taken || !q.taken) throw new Error('not taken');
      const fences = { p: { name: 'p', ownerId: 'a', token: p.token }, q: { name: 'q', ownerId: 'a', token: q.token } };
      let applied = 0;
      const unit = (id: string, ...held: { name: string; ownerId: string; token: number }[]): CommitUnit<unknown> => ({
        apply: (db) => {
          applied += 1;
          return inserting(table, [id])(db);
        },
        streamId: '$checkpoint-p',
        expectedVersion: 'any',
        event: checkpoint(1),
        also: [{ streamId: '$deadletter-p', event: { type: 'DeadLetter', data: { id } } }],
        fences: held,
      });
      await store.commit(unit('held', fences.p, fences.q));
      await store.commit(unit('no fences'));
      expect(applied).toBe(2);

      // q taken over (its holder said dead): a unit fenced by p and q is refused whole.
      expect(await store.tryLease('q', owner('b'), 30_000, () => true)).toMatchObject({ taken: true });
      await expect(store.commit(unit('taken over', fences.p, fences.q))).rejects.toMatchObject({ code: 'LOCKED', details: { fenced: true, projection: 'q' } });
      // p released by its holder: the token no longer fences anything.
      await store.releaseLock('p', 'a', p.token);
      await expect(store.commit(unit('released', fences.p))).rejects.toMatchObject({ code: 'LOCKED', details: { fenced: true, projection: 'p' } });
      // The same owner with an older token (it lost the lease and took it again) is refused too.
      const again = await store.tryLease('p', owner('a'), 30_000, never);
      if (!again.taken) throw new Error('not taken');
      await expect(store.commit(unit('old token', fences.p))).rejects.toMatchObject({ code: 'LOCKED', details: { fenced: true } });
      await store.commit(unit('new token', { ...fences.p, token: again.token }));

      expect(applied).toBe(3);
      expect(await table.ids()).toEqual(['held', 'new token', 'no fences']);
      expect((await store.read({ streamId: '$deadletter-p' })).map((e) => e.data.id)).toEqual(['held', 'no fences', 'new token']);
      expect(await store.read({ streamId: '$checkpoint-p' })).toHaveLength(3);
    });
  });

  describe('leases', () => {
    const owner = (id: string, host = 'h'): LockOwner => ({ id, pid: 4242, host, since: '2026-01-01T00:00:00.000Z' });
    const never = () => false;
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const taken = (attempt: Awaited<ReturnType<EventStore['tryLease']>>): number => {
      if (!attempt.taken) throw new Error(`not taken: held by ${attempt.holder.id}`);
      return attempt.token;
    };

    it('takes a free lease with a token, lists it live, and refuses it to another owner while it runs', async () => {
      expect(await store.leases()).toEqual([]);
      const before = Date.now();
      const a = taken(await store.tryLease('p', owner('a'), 30_000, never));
      const rows = await store.leases();
      expect(rows).toEqual([
        {
          name: 'p',
          owner: expect.objectContaining({ id: 'a', pid: 4242, host: 'h', since: '2026-01-01T00:00:00.000Z' }),
          token: a,
          expiresAt: expect.any(String),
          live: true,
        },
      ]);
      const expires = Date.parse(rows[0]!.expiresAt);
      expect(expires).toBeGreaterThanOrEqual(before + 30_000 - 2_000);
      expect(expires).toBeLessThanOrEqual(Date.now() + 30_000 + 2_000);

      const asked: string[] = [];
      const refused = await store.tryLease('p', owner('b'), 30_000, (holder) => (asked.push(holder.id), false));
      expect(refused).toMatchObject({ taken: false, holder: { id: 'a', pid: 4242, host: 'h' } });
      expect(asked).toEqual(['a']);
      // Another name is a lease of its own.
      taken(await store.tryLease('q', owner('b'), 30_000, never));
      expect((await store.leases()).map((l) => [l.name, l.owner.id, l.live]).sort()).toEqual([
        ['p', 'a', true],
        ['q', 'b', true],
      ]);
    });

    it('gives a larger token at every take: by the holder again, from a holder said dead, after a release', async () => {
      const first = taken(await store.tryLease('p', owner('a'), 30_000, never));
      const again = taken(await store.tryLease('p', owner('a'), 30_000, never));
      expect(again).toBeGreaterThan(first);
      const takeover = taken(await store.tryLease('p', owner('b'), 30_000, (holder) => holder.id === 'a'));
      expect(takeover).toBeGreaterThan(again);
      expect((await store.leases()).map((l) => [l.owner.id, l.token])).toEqual([['b', takeover]]);
      await store.releaseLock('p', 'b', takeover);
      expect(await store.leases()).toEqual([]);
      const afterRelease = taken(await store.tryLease('p', owner('c'), 30_000, never));
      expect(afterRelease).toBeGreaterThan(takeover);
    });

    it('renews and releases for its holder (and token) only', async () => {
      const a = taken(await store.tryLease('p', owner('a'), 30_000, never));
      const first = Date.parse((await store.leases())[0]!.expiresAt);
      expect(await store.renewLock('p', 'a', 60_000, a)).toBe(true);
      expect(Date.parse((await store.leases())[0]!.expiresAt)).toBeGreaterThan(first + 20_000);
      expect(await store.renewLock('p', 'a', 60_000)).toBe(true);
      expect(await store.renewLock('p', 'b', 60_000)).toBe(false);
      expect(await store.renewLock('p', 'a', 60_000, a + 1)).toBe(false);
      expect(await store.renewLock('missing', 'a', 60_000)).toBe(false);

      await store.releaseLock('p', 'b');
      await store.releaseLock('p', 'a', a + 1);
      expect((await store.leases()).map((l) => [l.owner.id, l.token])).toEqual([['a', a]]);
      await store.releaseLock('p', 'a', a);
      expect(await store.leases()).toEqual([]);
      expect(await store.renewLock('p', 'a', 60_000, a)).toBe(false);
    });

    it('a lease that ran out is listed as not live, is taken over, and its old holder can no longer renew it', async () => {
      const a = taken(await store.tryLease('p', owner('a'), 50, never));
      taken(await store.tryLease('q', owner('a'), 30_000, never));
      await sleep(120);
      const rows = new Map((await store.leases()).map((l) => [l.name, l]));
      expect(rows.get('p')).toMatchObject({ owner: { id: 'a' }, token: a, live: false });
      expect(Date.parse(rows.get('p')!.expiresAt)).toBeLessThan(Date.now());
      expect(rows.get('q')).toMatchObject({ live: true });

      const b = taken(await store.tryLease('p', owner('b'), 30_000, never));
      expect(b).toBeGreaterThan(a);
      expect(await store.renewLock('p', 'a', 30_000)).toBe(false);
      expect(await store.renewLock('p', 'a', 30_000, a)).toBe(false);
      expect((await store.leases()).find((l) => l.name === 'p')).toMatchObject({ owner: { id: 'b' }, token: b, live: true });
    });
  });

  describe('workers', () => {
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const worker = (n: number) => ({ id: `w${n}`, pid: 10 + n, host: `h${n}`, since: `2026-01-01T00:00:0${n}.000Z` });

    it('lists live workers by start, refreshes a heartbeat, and forgets one that runs out or leaves', async () => {
      expect(await store.liveWorkers()).toEqual([]);
      const before = Date.now();
      await store.heartbeat(worker(2), 30_000);
      await store.heartbeat(worker(1), 80);
      const live = await store.liveWorkers();
      expect(live).toEqual([
        { ...worker(1), expiresAt: expect.any(String) },
        { ...worker(2), expiresAt: expect.any(String) },
      ]);
      expect(Date.parse(live[1]!.expiresAt)).toBeGreaterThanOrEqual(before + 30_000 - 2_000);

      // A new heartbeat keeps w1 past its first lease; w3 beats once, briefly, and runs out.
      await store.heartbeat(worker(1), 30_000);
      await store.heartbeat(worker(3), 50);
      await sleep(120);
      expect((await store.liveWorkers()).map((w) => w.id)).toEqual(['w1', 'w2']);
      await store.leaveWorker('w1');
      await store.leaveWorker('never-was');
      expect((await store.liveWorkers()).map((w) => w.id)).toEqual(['w2']);
    });
  });
});
