/**
 * PostgreSQL leases while a batch runs: the fence is decided at commit, so a batch under way holds
 * no lock on its lease row. A takeover after the lease ran out is not held up by the old holder's
 * batch, which then commits nothing; the holder's own renewals never wait behind its batch; a lease
 * that ran out (taken over or not) commits nothing. On a real server.
 */
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CommitUnit, LockOwner } from '../../src/ports/event-store.js';
import { useFreshPgStore } from '../support/pg.js';

const file = useFreshPgStore();
const owner = (id: string): LockOwner => ({ id, pid: 1, host: 'elsewhere', since: new Date().toISOString() });
const never = () => false;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `promise`, or a rejection naming `what` after `ms`: an old-style wait on the row lock must fail, not hang. */
function within<T>(what: string, ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

let table: string;
beforeAll(async () => {
  table = `"${file.fresh.schema}".seen`;
  await file.store.readModel.query(`CREATE TABLE ${table} (name text PRIMARY KEY)`);
});

/** A batch of projection `name` under `token`: writes a row, then runs `during` inside its transaction. */
const unit = (name: string, ownerId: string, token: number, during: () => Promise<void>): CommitUnit<pg.ClientBase> => ({
  apply: async (client) => {
    await client.query(`INSERT INTO ${table} VALUES ($1)`, [name]);
    await during();
  },
  streamId: `$checkpoint-${name}`,
  expectedVersion: 'any',
  event: { type: 'Checkpoint', data: { position: 1, version: 1 } },
  fences: [{ name, ownerId, token }],
});

async function written(name: string): Promise<{ rows: number; checkpoint: boolean }> {
  const { rows } = await file.store.readModel.query(`SELECT count(*)::int AS n FROM ${table} WHERE name = $1`, [name]);
  return { rows: rows[0].n as number, checkpoint: (await file.store.lastEvent(`$checkpoint-${name}`)) !== undefined };
}

describe('PostgreSQL leases while a batch runs', () => {
  it("a takeover once the lease ran out does not wait for the old holder's batch, and that batch commits nothing", async () => {
    const { store } = file;
    const a = await store.tryLease('p1', owner('a'), 300, never);
    if (!a.taken) throw new Error('not taken');
    let tookAfter = -1;
    const commit = store.commit(
      unit('p1', 'a', a.token, async () => {
        // The holder's batch is under way (its handlers ran, its transaction is open) past its lease.
        const start = performance.now();
        for (;;) {
          const b = await within('a takeover during the batch', 3000, store.tryLease('p1', owner('b'), 30_000, never));
          if (b.taken) break;
          if (performance.now() - start > 3000) throw new Error('the lease never ran out');
          await sleep(20);
        }
        tookAfter = performance.now() - start;
      }),
    );
    await expect(commit).rejects.toMatchObject({ code: 'LOCKED', details: { fenced: true }, message: expect.stringMatching(/taken over/) });
    expect(tookAfter).toBeGreaterThanOrEqual(0);
    expect(tookAfter).toBeLessThan(1500);
    expect(await written('p1')).toEqual({ rows: 0, checkpoint: false });
  });

  it('renews its own lease while its batch runs, without waiting for it, and commits', async () => {
    const { store } = file;
    const a = await store.tryLease('p2', owner('a'), 1000, never);
    if (!a.taken) throw new Error('not taken');
    const commit = store.commit(
      unit('p2', 'a', a.token, async () => {
        // A batch longer than the lease, kept alive by renewals made while it runs.
        for (let i = 0; i < 6; i++) {
          expect(await within('a renewal during the batch', 1000, store.renewLock('p2', 'a', 1000, a.token))).toBe(true);
          await sleep(300);
        }
      }),
    );
    await expect(commit).resolves.toMatchObject({ version: 1 });
    expect(await written('p2')).toEqual({ rows: 1, checkpoint: true });
  });

  it('a lease that ran out during the batch, taken over by no one, commits nothing', async () => {
    const { store } = file;
    const a = await store.tryLease('p3', owner('a'), 200, never);
    if (!a.taken) throw new Error('not taken');
    const commit = store.commit(
      unit('p3', 'a', a.token, async () => {
        for (let i = 0; i < 100 && (await store.leases()).some((l) => l.name === 'p3' && l.live); i++) await sleep(20);
      }),
    );
    await expect(commit).rejects.toMatchObject({ code: 'LOCKED', details: { fenced: true }, message: expect.stringMatching(/ran out/) });
    expect(await written('p3')).toEqual({ rows: 0, checkpoint: false });
  });

  it('lease queries never wait long for a row lock: a takeover is "not taken yet", a renewal fails, to be tried again', async () => {
    const { store } = file;
    const a = await store.tryLease('p5', owner('a'), 2000, never);
    if (!a.taken) throw new Error('not taken');
    const other = new pg.Client({ connectionString: file.fresh.url.replace(/\?.*$/, '') });
    await other.connect();
    try {
      // A transaction that holds the lease row and does not end (its process stopped, say).
      await other.query('BEGIN');
      await other.query(`SELECT 1 FROM "${file.fresh.schema}".es_locks WHERE name = 'p5' FOR UPDATE`);
      // Once the lease has run out, as the lease rows say (a plain read: not held up by the row lock).
      for (let i = 0; (await store.leases()).some((l) => l.name === 'p5' && l.live); i++) {
        if (i >= 500) throw new Error("a's lease of p5 did not run out within 10 s");
        await sleep(20);
      }
      expect(await within('a takeover', 3000, store.tryLease('p5', owner('b'), 30_000, never))).toMatchObject({ taken: false, holder: { id: 'a' } });
      await expect(within('a renewal', 3000, store.renewLock('p5', 'a', 2000, a.token))).rejects.toMatchObject({ code: '55P03' });
      await other.query('ROLLBACK');
      expect(await store.tryLease('p5', owner('b'), 30_000, never)).toMatchObject({ taken: true });
    } finally {
      await other.end();
    }
  });

  it('a batch that sits idle as long as its lease (its process paused or cut off) is ended by the server, freeing what it locked', async () => {
    const { store } = file;
    const a = await store.tryLease('p4', owner('a'), 1000, never);
    if (!a.taken) throw new Error('not taken');
    const other = new pg.Client({ connectionString: file.fresh.url.replace(/\?.*$/, '') });
    await other.connect();
    try {
      let freedAfter = -1;
      const commit = store.commit({
        ...unit('p4', 'a', a.token, async () => {
          // Idle in the transaction, as a stopped process would be: the next holder's write of the
          // same read-model row waits for this one, until the server ends this session.
          const start = performance.now();
          await within('the same row written by the next holder', 4000, other.query(`INSERT INTO ${table} VALUES ('p4')`));
          freedAfter = performance.now() - start;
        }),
        fences: [{ name: 'p4', ownerId: 'a', token: a.token, leaseMs: 1000 }],
      });
      // Seen by the holder as a lost connection: the batch is tried again, and fenced then if it must be.
      const error: unknown = await commit.then(
        () => null,
        (e: unknown) => e,
      );
      expect(store.isTransient(error), String(error)).toBe(true);
      expect(freedAfter).toBeGreaterThan(500);
      expect(freedAfter).toBeLessThan(2500);
      expect((await written('p4')).checkpoint).toBe(false);
    } finally {
      await other.end();
    }
  });
});
