/**
 * A table bulk-loaded by an import has no planner statistics until autovacuum analyzes it, and a
 * rebuild read right after it then takes a plan several times slower. An import that grows the log
 * by a tenth or more analyzes it at once; a small one leaves it to autovacuum.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PostgresEventStore } from '../../src/drivers/postgres/store.js';
import { freshPgStore, pgServerUrl } from '../support/pg.js';

const fresh = freshPgStore();
let store: PostgresEventStore;
let admin: pg.Client;

beforeAll(async () => {
  store = await PostgresEventStore.open(fresh.url, { create: true });
  admin = new pg.Client({ connectionString: pgServerUrl() });
  await admin.connect();
});
afterAll(async () => {
  await store.close();
  await admin.end();
  await fresh.drop();
});

async function estimatedRows(): Promise<number> {
  const { rows } = await admin.query<{ n: number }>('SELECT reltuples::float8 AS n FROM pg_class WHERE oid = $1::regclass', [`"${fresh.schema}".events`]);
  return rows[0]?.n ?? -1;
}

const events = (n: number, from: number) => Array.from({ length: n }, (_, i) => ({ streamId: `s-${(from + i) % 50}`, type: 'Tick', data: { i: from + i } }));

it('an import that grows the log by a tenth leaves statistics behind; a small one does not analyze', async () => {
  await store.importEvents([events(3000, 0)]);
  expect(await estimatedRows()).toBe(3000);
  await store.importEvents([events(200, 3000)]);
  expect(await estimatedRows()).toBe(3000);
  await store.importEvents([events(1000, 3200)]);
  expect(await estimatedRows()).toBe(4200);
});
