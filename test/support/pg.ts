import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import { PostgresEventStore } from '../../src/drivers/postgres/store.js';

/** The test server's URL (see pg-global-setup.ts). */
export function pgServerUrl(): string {
  return inject('pgUrl');
}

/** A URL naming a new, unused schema on the test server, and a way to drop it afterwards. */
export function freshPgStore(server = pgServerUrl()): { url: string; schema: string; drop: () => Promise<void> } {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const base = new URL(server);
  base.searchParams.set('schema', schema);
  return {
    url: base.toString(),
    schema,
    drop: async () => {
      const client = new pg.Client({ connectionString: server });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

/**
 * Waits until every committed event of the schema is visible to a projection: below the oldest
 * transaction still in flight anywhere on the server (other test files hold transactions open),
 * which is where the PostgreSQL store's commit-order reads stop.
 */
export async function untilVisible(db: { query(text: string): Promise<{ rows: { held: boolean }[] }> }, schema: string, withinMs = 30_000): Promise<void> {
  for (let i = 0; i < withinMs / 50; i++) {
    const { rows } = await db.query(`SELECT EXISTS (SELECT 1 FROM "${schema}".events WHERE transaction_id >= "${schema}".es_xact_horizon()) AS held`);
    if (!rows[0]?.held) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`events of ${schema} still held back by a transaction in flight after ${withinMs / 1000} s`);
}

/**
 * A PostgreSQL store in a fresh schema for the whole test file: opened before its tests, closed and
 * dropped after them. Read `store` and `fresh` inside the tests (they are set by beforeAll).
 */
export function useFreshPgStore(): { store: PostgresEventStore; fresh: ReturnType<typeof freshPgStore> } {
  const file = {} as { store: PostgresEventStore; fresh: ReturnType<typeof freshPgStore> };
  beforeAll(async () => {
    file.fresh = freshPgStore();
    file.store = await PostgresEventStore.open(file.fresh.url, { create: true });
  });
  afterAll(async () => {
    await file.store.close();
    await file.fresh.drop();
  });
  return file;
}
