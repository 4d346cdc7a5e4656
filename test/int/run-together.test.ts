import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { normalizeProjection, type Projection } from '../../src/core/projection.js';
import { rebuildProjections } from '../../src/engine/rebuild.js';
import { runProjection } from '../../src/engine/run/index.js';
import { runProjections as runTogether } from '../../src/engine/run/index.js';
import { SqliteEventStore } from '../../src/drivers/sqlite/store.js';

const root = mkdtempSync(join(tmpdir(), 'es-together-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;

const TYPES = ['A', 'B', 'C', 'D'];

/** A store with `count` events cycling through TYPES; event n has data.n = n. */
async function storeWith(count: number): Promise<SqliteEventStore> {
  const store = new SqliteEventStore(join(root, `together-${++counter}.db`), { create: true });
  await store.appendMany(Array.from({ length: count }, (_, i) => ({ streamId: `s-${i % 7}`, type: TYPES[i % 4]!, data: { n: i + 1 } })));
  return store;
}

/** Records each handled event under a primary key: handling one twice throws. */
function recorder(name: string, types: string[] | null, failAt?: number): Projection<Database> {
  const table = `seen_${name.replace(/-/g, '_')}`;
  const handle = (event: { id: string; position: number; data: Record<string, unknown> }, db: Database) => {
    if (event.data.n === failAt) throw new Error(`poison ${failAt}`);
    db.prepare(`INSERT INTO ${table} (id, position) VALUES (?, ?)`).run(event.id, event.position);
  };
  const handlers = Object.fromEntries((types ?? ['*']).map((t) => [t, handle]));
  return normalizeProjection<Database>(
    {
      name,
      setup: (db: Database) => db.exec(`CREATE TABLE IF NOT EXISTS ${table} (id TEXT PRIMARY KEY, position INTEGER)`),
      reset: (db: Database) => db.exec(`DELETE FROM ${table}`),
      handlers,
    },
    `${name}.mjs`,
    name,
  );
}

function seen(store: SqliteEventStore, name: string): number[] {
  return store.db.prepare(`SELECT position FROM seen_${name.replace(/-/g, '_')} ORDER BY position`).pluck().all() as number[];
}

const projections = () => [recorder('all', null), recorder('ab', ['A', 'B']), recorder('d', ['D'])];

describe('several projections in one pass', () => {
  it('gives each projection exactly what a run of its own gives, and checkpoints all at the head', async () => {
    const together = await storeWith(2500);
    const alone = await storeWith(2500);
    const results = await runTogether(together, projections(), { batchSize: 300 });
    for (const p of projections()) await runProjection(alone, p, { batchSize: 300 });
    const head = await together.head();
    for (const result of results) {
      expect(result).toMatchObject({ state: 'up-to-date', from: 0, to: head });
      expect(seen(together, result.name)).toEqual(seen(alone, result.name));
      const last = await together.lastEvent(`$checkpoint-${result.name}`);
      expect(last?.data).toEqual({ position: head, version: 1 });
    }
    expect(results.map((r) => r.processed)).toEqual([2500, 1250, 625]);
    await together.close();
    await alone.close();
  });

  it('starts each projection at its own checkpoint', async () => {
    const store = await storeWith(1000);
    await runProjection(store, recorder('ab', ['A', 'B']), { batchSize: 1000 });
    await store.appendMany([{ streamId: 's-x', type: 'A', data: { n: 1001 } }]);
    const [all, ab] = await runTogether(store, [recorder('all', null), recorder('ab', ['A', 'B'])], { batchSize: 128 });
    expect(all).toMatchObject({ from: 0, processed: 1001, state: 'up-to-date' });
    expect(ab).toMatchObject({ from: 1000, processed: 1, state: 'up-to-date' });
    expect(seen(store, 'ab')).toHaveLength(501);
    await store.close();
  });

  it('a poison event faults only its projection; the others reach the head, nothing is applied twice', async () => {
    const store = await storeWith(1200);
    const [all, ab, d] = await runTogether(store, [recorder('all', null), recorder('ab', ['A', 'B'], 777), recorder('d', ['D'])], {
      batchSize: 250,
    });
    const head = await store.head();
    expect(all).toMatchObject({ state: 'up-to-date', to: head, processed: 1200 });
    expect(d).toMatchObject({ state: 'up-to-date', to: head, processed: 300 });
    expect(ab?.state).toBe('faulted');
    expect(ab?.error).toMatchObject({ message: 'poison 777', position: 777, type: 'A' });
    const faulted = await store.lastEvent('$checkpoint-ab');
    expect(faulted).toMatchObject({ type: 'Faulted', data: { position: 774 } });
    expect(seen(store, 'ab').at(-1)).toBe(774);
    expect(seen(store, 'all')).toHaveLength(1200);
    await store.close();
  });

  it('rebuild resets every projection and replays them in one pass', async () => {
    const store = await storeWith(600);
    await runTogether(store, projections(), { batchSize: 100 });
    store.db.exec(`INSERT INTO seen_all (id, position) VALUES ('stray', -1)`);
    const results = await rebuildProjections(store, projections(), { batchSize: 100 });
    expect(results.map((r) => [r.name, r.from, r.processed, r.state])).toEqual([
      ['all', 0, 600, 'up-to-date'],
      ['ab', 0, 300, 'up-to-date'],
      ['d', 0, 150, 'up-to-date'],
    ]);
    expect(seen(store, 'all')).not.toContain(-1);
    await store.close();
  });
});
