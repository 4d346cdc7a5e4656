/**
 * Fenced leases at the store: every acquisition of a projection's lock gets a larger token, and a
 * commit carrying a lease that was taken over since writes nothing (not even its read-model writes),
 * on SQLite and on a real PostgreSQL server. Also the in-place upgrade of stores from before tokens.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { normalizeProjection } from '../../src/core/projection.js';
import { runProjections as runTogether } from '../../src/engine/run/index.js';
import type { CommitUnit, EventStore, Fence, LockOwner } from '../../src/ports/event-store.js';
import type { RunLease } from '../../src/engine/types.js';
import { SCHEMA_VERSION } from '../../src/drivers/postgres/schema.js';
import { PostgresEventStore } from '../../src/drivers/postgres/store.js';
import { SqliteEventStore } from '../../src/drivers/sqlite/store.js';
import { storeKinds } from '../support/backends.js';
import { writeOldStore } from '../support/old-store.js';
import { freshPgStore, pgServerUrl } from '../support/pg.js';

const root = mkdtempSync(join(tmpdir(), 'es-fencing-'));
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c().catch(() => {});
  rmSync(root, { recursive: true, force: true });
});

const owner = (id: string, host = 'h'): LockOwner => ({ id, pid: 1, host, since: new Date().toISOString() });
const never = () => false;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `check` holds, looking every 10 ms; fails naming `what` after `ms`. */
async function until(what: string, check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(10);
  }
}

describe.each(storeKinds())('fenced leases on %s', (kind) => {
  const open = async (): Promise<EventStore<unknown>> => {
    const { store, cleanup } = await kind.open();
    cleanups.push(cleanup);
    return store;
  };

  it('gives every acquisition a larger token and refuses a commit whose lease was taken over', async () => {
    const store = await open();
    const a = await store.tryLease('p', owner('a'), 50, never);
    expect(a).toEqual({ taken: true, token: expect.any(Number) });
    // Held: refused to another owner while the lease runs.
    const refused = await store.tryLease('p', owner('b'), 50, never);
    expect(refused).toMatchObject({ taken: false, holder: { id: 'a' } });
    // Run out, as the store's lease rows say (on PostgreSQL by the server's clock).
    await until("a's lease of p to run out", async () => (await store.leases()).some((l) => l.name === 'p' && l.owner.id === 'a' && !l.live));
    const b = await store.tryLease('p', owner('b'), 30_000, never);
    if (!a.taken || !b.taken) throw new Error('not taken');
    expect(b.token).toBeGreaterThan(a.token);

    let applied = 0;
    const unit = (fenceOwner: string, token: number): CommitUnit<unknown> => ({
      apply: () => {
        applied += 1;
      },
      streamId: '$checkpoint-p',
      expectedVersion: 'any',
      event: { type: 'Checkpoint', data: { position: 0, version: 1 } },
      fences: [{ name: 'p', ownerId: fenceOwner, token }],
    });
    // The paused holder: nothing of its unit is written, its handlers do not even run.
    await expect(store.commit(unit('a', a.token))).rejects.toMatchObject({ code: 'LOCKED', details: { fenced: true } });
    expect(applied).toBe(0);
    expect(await store.lastEvent('$checkpoint-p')).toBeUndefined();
    // The same owner with an old token (it lost the lease and took it again) is refused too.
    await expect(store.commit(unit('b', a.token))).rejects.toMatchObject({ code: 'LOCKED' });
    await store.commit(unit('b', b.token));
    expect(applied).toBe(1);
    expect((await store.lastEvent('$checkpoint-p'))?.type).toBe('Checkpoint');

    // Renewal and release are token-checked; a release keeps the row, so the next token is larger still.
    expect(await store.renewLock('p', 'b', 30_000, a.token)).toBe(false);
    expect(await store.renewLock('p', 'b', 30_000, b.token)).toBe(true);
    expect((await store.leases()).map((l) => [l.name, l.owner.id, l.token, l.live])).toEqual([['p', 'b', b.token, true]]);
    await store.releaseLock('p', 'b', b.token);
    expect(await store.leases()).toEqual([]);
    const c = await store.tryLease('p', owner('c'), 30_000, never);
    expect(c.taken && c.token).toBe(b.token + 1);
  });

  it('registers workers with a heartbeat that runs out, and forgets one that leaves', async () => {
    const store = await open();
    await store.heartbeat({ id: 'w1', pid: 11, host: 'h1', since: new Date().toISOString() }, 30_000);
    await store.heartbeat({ id: 'w2', pid: 12, host: 'h2', since: new Date().toISOString() }, 50);
    expect((await store.liveWorkers()).map((w) => w.id).sort()).toEqual(['w1', 'w2']);
    // w2's 50 ms heartbeat runs out; w1's does not.
    await until("w2's heartbeat to run out", async () => !(await store.liveWorkers()).some((w) => w.id === 'w2'));
    expect((await store.liveWorkers()).map((w) => w.id)).toEqual(['w1']);
    await store.leaveWorker('w1');
    expect(await store.liveWorkers()).toEqual([]);
  });

  it("a run that lost one lease says so in that projection's result and still runs the others", async () => {
    const store = await open();
    await store.appendMany(Array.from({ length: 5 }, (_, i) => ({ streamId: `s-${i}`, type: 'T', data: { i } })));
    // On PostgreSQL, readable once no older transaction is in flight anywhere on the server.
    for (let i = 0; i < 600 && (await store.readBatch({ after: 0, types: null, limit: 10 })).events.length < 5; i++) await sleep(50);
    const seen: Record<string, number> = { lost: 0, kept: 0 };
    const counting = (name: string) =>
      normalizeProjection<unknown>({ name, handlers: { T: () => void (seen[name] = (seen[name] ?? 0) + 1) } }, `${name}.mjs`, name);
    // Both leases were ours; "lost" was taken over since (a pause past its lease, say).
    const mine = { lost: await store.tryLease('lost', owner('me'), 30_000, never), kept: await store.tryLease('kept', owner('me'), 30_000, never) };
    if (!mine.lost.taken || !mine.kept.taken) throw new Error('not taken');
    await store.releaseLock('lost', 'me', mine.lost.token);
    expect((await store.tryLease('lost', owner('other'), 30_000, never)).taken).toBe(true);
    const tokens = { lost: mine.lost.token, kept: mine.kept.token };
    // Both in one run, one shared pass: one transaction for both, each checkpoint fenced by its own lease.
    const results = await runTogether(store, [counting('lost'), counting('kept')], {
      batchSize: 2,
      onError: 'stop',
      leases: new Map((['lost', 'kept'] as const).map((n) => [n, held({ name: n, ownerId: 'me', token: tokens[n] })])),
    });
    const [lost, kept] = results;
    expect(lost).toMatchObject({ name: 'lost', state: 'locked', interrupted: true, processed: 0, error: { message: expect.stringMatching(/lost the lease/) } });
    expect(kept).toMatchObject({ name: 'kept', state: 'up-to-date', processed: 5, error: null });
    expect(await store.lastEvent('$checkpoint-lost')).toBeUndefined();
  });

  it('a projection whose lease signal fired (its renewal failed) stops at once; the others of its run go on', async () => {
    const store = await open();
    await store.appendMany(Array.from({ length: 5 }, (_, i) => ({ streamId: `s-${i}`, type: 'T', data: { i } })));
    for (let i = 0; i < 600 && (await store.readBatch({ after: 0, types: null, limit: 10 })).events.length < 5; i++) await sleep(50);
    const seen: Record<string, number> = {};
    const counting = (name: string) =>
      normalizeProjection<unknown>({ name, handlers: { T: () => void (seen[name] = (seen[name] ?? 0) + 1) } }, `${name}.mjs`, name);
    const gone = new AbortController();
    gone.abort();
    const results = await runTogether(store, [counting('gone'), counting('stays')], {
      batchSize: 2,
      onError: 'stop',
      leases: new Map([['gone', { ...held({ name: 'gone', ownerId: 'me', token: 1 }), signal: gone.signal, lost: () => true }]]),
    });
    expect(results[0]).toMatchObject({ name: 'gone', state: 'locked', interrupted: true, processed: 0 });
    expect(results[1]).toMatchObject({ name: 'stays', state: 'up-to-date', interrupted: false, processed: 5 });
    expect(seen).toEqual({ stays: 5 });
  });
});

/** A lease as a run sees it, still held: a fence and a signal that never fires. */
const held = (fence: Fence): RunLease => ({ fence, signal: new AbortController().signal, lost: () => false, ranOut: () => false });

describe('stores from before fencing tokens', () => {
  it('SQLite: an old store gets the token column and the workers table on open, keeping a held lock', async () => {
    const path = join(root, 'old.db');
    writeOldStore(path, 0);
    const raw = new Sqlite(path);
    raw.exec(`INSERT INTO es_locks VALUES ('p', 'old-owner', 1, 'elsewhere', '2026-01-01T00:00:00.000Z', ${Date.now() + 60_000});`);
    raw.close();
    const store = new SqliteEventStore(path);
    try {
      const columns = (store.db.prepare('PRAGMA table_info(es_locks)').all() as { name: string }[]).map((c) => c.name);
      expect(columns).toContain('token');
      expect((await store.leases()).map((l) => [l.owner.id, l.token])).toEqual([['old-owner', 0]]);
      expect(await store.tryLease('p', owner('new'), 30_000, never)).toMatchObject({ taken: false, holder: { id: 'old-owner' } });
      expect(await store.liveWorkers()).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('PostgreSQL: a schema of version 1 is upgraded in place to the current version on open, keeping a held lock', async () => {
    const fresh = freshPgStore();
    cleanups.push(fresh.drop);
    const first = await PostgresEventStore.open(fresh.url, { create: true });
    await first.close();
    // Back to what version 1 had: no token, no workers table, schema_version 1, and a held lock.
    const admin = new pg.Client({ connectionString: pgServerUrl() });
    await admin.connect();
    try {
      const s = `"${fresh.schema}"`;
      await admin.query(`ALTER TABLE ${s}.es_locks DROP COLUMN token; DROP TABLE ${s}.es_workers;
        ALTER TABLE ${s}.events ALTER COLUMN transaction_id SET DEFAULT pg_current_xact_id();
        DROP FUNCTION ${s}.es_xact_id(), ${s}.es_xact_horizon(), ${s}.es_xact_next();
        DELETE FROM ${s}.es_meta WHERE key IN ('xact_offset', 'system_identifier');
        UPDATE ${s}.es_meta SET value = '1' WHERE key = 'schema_version';
        INSERT INTO ${s}.es_locks (name, owner_id, pid, host, since, expires_at) VALUES ('p', 'old-owner', 1, 'elsewhere', 'x', ${Date.now() + 60_000})`);
      const store = await PostgresEventStore.open(fresh.url);
      try {
        const version = await admin.query(`SELECT value FROM ${s}.es_meta WHERE key = 'schema_version'`);
        expect(version.rows[0].value).toBe(String(SCHEMA_VERSION));
        const meta = await admin.query(`SELECT key, value FROM ${s}.es_meta WHERE key IN ('xact_offset', 'system_identifier') ORDER BY key`);
        expect(meta.rows.map((r) => r.key)).toEqual(['system_identifier', 'xact_offset']);
        expect(meta.rows[1].value).toBe('0');
        const defaults =
          await admin.query(`SELECT pg_get_expr(d.adbin, d.adrelid) AS expr FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
          WHERE d.adrelid = '${s}.events'::regclass AND a.attname = 'transaction_id'`);
        expect(defaults.rows[0].expr).toContain('es_xact_id()');
        expect((await store.leases()).map((l) => [l.owner.id, l.token])).toEqual([['old-owner', 0]]);
        expect(await store.tryLease('p', owner('new'), 30_000, never)).toMatchObject({ taken: false });
        expect(await store.liveWorkers()).toEqual([]);
      } finally {
        await store.close();
      }
    } finally {
      await admin.end();
    }
  });
});
