/** Several projections at the same place in the log in one shared pass, on every kind of store (see storeKinds). */
import { afterEach, describe, expect, it } from 'vitest';
import { normalizeProjection, type Projection } from '../../src/core/projection.js';
import { rebuildProjections } from '../../src/engine/rebuild.js';
import { runProjection } from '../../src/engine/run/index.js';
import { runProjections as runTogether } from '../../src/engine/run/index.js';
import type { EventStore } from '../../src/ports/event-store.js';
import { storeKinds, type ReadModelSql } from '../support/backends.js';

const TYPES = ['A', 'B', 'C', 'D'];

describe.each(storeKinds())('several projections in one pass on %s', (kind) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  /**
   * A store with `count` events cycling through TYPES; event n has data.n = n. The streams take runs
   * of 100 events: PostgreSQL's import appends a run of one stream in one statement, and events of
   * streams taking turns one statement each (seconds for these logs).
   */
  async function storeWith(count: number): Promise<EventStore<any>> {
    const { store, cleanup } = await kind.open();
    cleanups.push(cleanup);
    const events = Array.from({ length: count }, (_, i) => ({ streamId: `s-${Math.floor(i / 100) % 7}`, type: TYPES[i % 4]!, data: { n: i + 1 } }));
    await store.appendMany(events);
    await kind.settle(store);
    return store;
  }

  /** Records each handled event under a primary key: handling one twice throws. */
  function recorder(sql: ReadModelSql, name: string, types: string[] | null, failAt?: number): Projection<unknown> {
    const table = sql.table(`seen_${name.replace(/-/g, '_')}`);
    const handle = (event: { id: string; position: number; data: Record<string, unknown> }, db: unknown) => {
      if (event.data.n === failAt) throw new Error(`poison ${failAt}`);
      return sql.run(db, `INSERT INTO ${table} (id, position) VALUES (?, ?)`, [event.id, event.position]);
    };
    const handlers = Object.fromEntries((types ?? ['*']).map((t) => [t, handle]));
    return normalizeProjection<unknown>(
      {
        name,
        setup: (db: unknown) => sql.exec(db, `CREATE TABLE IF NOT EXISTS ${table} (id TEXT PRIMARY KEY, position INTEGER)`),
        reset: (db: unknown) => sql.exec(db, `DELETE FROM ${table}`),
        handlers,
      },
      `${name}.mjs`,
      name,
    );
  }

  async function seen(store: EventStore<any>, name: string): Promise<number[]> {
    const sql = kind.sql(store);
    const rows = await sql.rows<{ position: number }>(`SELECT position FROM ${sql.table(`seen_${name.replace(/-/g, '_')}`)} ORDER BY position`);
    return rows.map((r) => r.position);
  }

  const projections = (store: EventStore<any>) => {
    const sql = kind.sql(store);
    return [recorder(sql, 'all', null), recorder(sql, 'ab', ['A', 'B']), recorder(sql, 'd', ['D'])];
  };

  it('gives each projection exactly what a run of its own gives, and checkpoints all at the head', async () => {
    const together = await storeWith(2500);
    const alone = await storeWith(2500);
    const results = await runTogether(together, projections(together), { batchSize: 300 });
    for (const p of projections(alone)) await runProjection(alone, p, { batchSize: 300 });
    const head = await together.head();
    for (const result of results) {
      expect(result).toMatchObject({ state: 'up-to-date', from: 0, to: head });
      expect(await seen(together, result.name)).toEqual(await seen(alone, result.name));
      // The store's resume token aside (a store that reads in commit order saves one).
      const { cursor: _token, ...last } = (await together.lastEvent(`$checkpoint-${result.name}`))?.data ?? {};
      expect(last).toEqual({ position: head, version: 1 });
    }
    expect(results.map((r) => r.processed)).toEqual([2500, 1250, 625]);
  });

  it('starts each projection at its own checkpoint', async () => {
    const store = await storeWith(1000);
    const sql = kind.sql(store);
    await runProjection(store, recorder(sql, 'ab', ['A', 'B']), { batchSize: 1000 });
    await store.appendMany([{ streamId: 's-x', type: 'A', data: { n: 1001 } }]);
    await kind.settle(store);
    const [all, ab] = await runTogether(store, [recorder(sql, 'all', null), recorder(sql, 'ab', ['A', 'B'])], { batchSize: 128 });
    expect(all).toMatchObject({ from: 0, processed: 1001, state: 'up-to-date' });
    expect(ab).toMatchObject({ from: 1000, processed: 1, state: 'up-to-date' });
    expect(await seen(store, 'ab')).toHaveLength(501);
  });

  it('a poison event faults only its projection; the others reach the head, nothing is applied twice', async () => {
    const store = await storeWith(1200);
    const sql = kind.sql(store);
    const [all, ab, d] = await runTogether(store, [recorder(sql, 'all', null), recorder(sql, 'ab', ['A', 'B'], 777), recorder(sql, 'd', ['D'])], {
      batchSize: 250,
    });
    const head = await store.head();
    expect(all).toMatchObject({ state: 'up-to-date', to: head, processed: 1200 });
    expect(d).toMatchObject({ state: 'up-to-date', to: head, processed: 300 });
    expect(ab?.state).toBe('faulted');
    expect(ab?.error).toMatchObject({ message: 'poison 777', position: 777, type: 'A' });
    const faulted = await store.lastEvent('$checkpoint-ab');
    expect(faulted).toMatchObject({ type: 'Faulted', data: { position: 774 } });
    expect((await seen(store, 'ab')).at(-1)).toBe(774);
    expect(await seen(store, 'all')).toHaveLength(1200);
  });

  it('rebuild resets every projection and replays them in one pass', async () => {
    const store = await storeWith(600);
    const sql = kind.sql(store);
    await runTogether(store, projections(store), { batchSize: 100 });
    await sql.run(store.readModel, `INSERT INTO ${sql.table('seen_all')} (id, position) VALUES ('stray', -1)`);
    const results = await rebuildProjections(store, projections(store), { batchSize: 100 });
    expect(results.map((r) => [r.name, r.from, r.processed, r.state])).toEqual([
      ['all', 0, 600, 'up-to-date'],
      ['ab', 0, 300, 'up-to-date'],
      ['d', 0, 150, 'up-to-date'],
    ]);
    expect(await seen(store, 'all')).not.toContain(-1);
  });
});
