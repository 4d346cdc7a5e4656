/**
 * Concurrent writers against a tailing projection on PostgreSQL: positions are drawn before their
 * transactions commit, so a naive `position > checkpoint` reader skips events for ever. Writers here
 * hold their transactions open for random times after drawing positions, write an unrelated row
 * first, or roll back, while `runProjection` follows. The read model must end with every committed
 * event exactly once (a primary key per event id), no rolled-back one, each stream in version order.
 */
import pg from 'pg';
import { expect, it } from 'vitest';
import { normalizeProjection } from '../../src/core/projection.js';
import { runProjection } from '../../src/engine/run/index.js';
import { status } from '../../src/engine/status.js';
import { useFreshPgStore } from '../support/pg.js';

const WRITERS = 16;
const ROUNDS = 25;
const STREAMS = 12;

const file = useFreshPgStore();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A run reads only below the server's transaction horizon (its oldest transaction in flight), and
 * the server is shared with other tests, whose open transactions hold it back too: a run that met
 * one for over 5 s said `behind` having read nothing. Before a run whose count is checked: waits until
 * every transaction begun before now has ended, but `ownXid` (one the test keeps open on purpose),
 * 30 s at most.
 */
async function olderTransactionsEnded(ownXid?: string): Promise<void> {
  const client = new pg.Client({ connectionString: file.fresh.url.replace(/[?&]schema=[^&]*/, '') });
  await client.connect();
  try {
    const next = BigInt((await client.query<{ x: string }>('SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS x')).rows[0]!.x);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { rows } = await client.query<{ x: string }>('SELECT x::text FROM pg_snapshot_xip(pg_current_snapshot()) AS x');
      const open = rows.map((r) => r.x).filter((x) => BigInt(x) < next && x !== ownXid);
      if (open.length === 0) return;
      if (Date.now() > deadline) throw new Error(`transactions ${open.join(', ')} of the server still open after 30 s`);
      await sleep(50);
    }
  } finally {
    await client.end();
  }
}

it('a following projection sees every committed event once, in commit and stream order', async () => {
  const s = file.fresh.schema;
  const admin = new pg.Pool({ connectionString: new URL(file.fresh.url).toString().replace(/[?&]schema=[^&]*/, ''), max: WRITERS + 2 });
  await admin.query(`CREATE TABLE "${s}".seen (id text PRIMARY KEY, stream text NOT NULL, version int NOT NULL, seq bigserial)`);
  await admin.query(`CREATE TABLE "${s}".unrelated (n int)`);
  const projection = normalizeProjection<pg.ClientBase>(
    {
      name: 'seen',
      handlers: {
        async '*'(event: { id: string; streamId: string; version: number }, db: pg.ClientBase) {
          await db.query(`INSERT INTO "${s}".seen (id, stream, version) VALUES ($1, $2, $3)`, [event.id, event.streamId, event.version]);
        },
      },
    },
    'seen.mjs',
    'seen',
  );
  const stop = new AbortController();
  const follower = runProjection(file.store as never, projection as never, { batchSize: 7, follow: true, signal: stop.signal, pollMs: 5 });

  const committed = new Set<string>();
  const rolledBack = new Set<string>();
  let seed = 12345;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const writer = async (w: number) => {
    for (let round = 0; round < ROUNDS; round++) {
      const streamId = `s-${Math.floor(random() * STREAMS)}`;
      const id = `w${w}-r${round}`;
      const rollback = random() < 0.15;
      const unrelatedFirst = random() < 0.3;
      const hold = random() < 0.4 ? Math.floor(random() * 60) : 0;
      for (;;) {
        const client = await admin.connect();
        try {
          await client.query('BEGIN');
          if (unrelatedFirst) await client.query(`INSERT INTO "${s}".unrelated (n) VALUES ($1)`, [w]);
          await file.store.append(streamId, [{ id, type: 'Tick', data: { w, round } }], 'any', { client });
          if (hold) await sleep(hold);
          if (rollback) {
            await client.query('ROLLBACK');
            rolledBack.add(id);
          } else {
            await client.query('COMMIT');
            committed.add(id);
          }
          break;
        } catch (error) {
          await client.query('ROLLBACK').catch(() => {});
          const code = (error as { code?: string }).code;
          // Another writer took the version, or wrote the stream from a newer transaction: again.
          if (code !== 'CONFLICT' && code !== '23505') throw error;
        } finally {
          client.release();
        }
      }
    }
  };
  await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));

  const deadline = Date.now() + 30_000;
  for (;;) {
    const report = await status(file.store as never, [projection as never]);
    if (report.projections[0]?.lag === 0 && report.projections[0]?.state === 'up-to-date') break;
    if (Date.now() > deadline) throw new Error(`not caught up: ${JSON.stringify(report)}`);
    await sleep(50);
  }
  stop.abort();
  const result = await follower;
  expect(result.error).toBeNull();

  const { rows } = await admin.query<{ id: string; stream: string; version: number }>(`SELECT id, stream, version FROM "${s}".seen ORDER BY seq`);
  await admin.end();
  const seenIds = rows.map((r) => r.id);
  expect(new Set(seenIds).size).toBe(seenIds.length);
  expect([...committed].filter((id) => !seenIds.includes(id))).toEqual([]);
  expect(seenIds.filter((id) => rolledBack.has(id))).toEqual([]);
  expect(seenIds.length).toBe(committed.size);
  const lastVersion = new Map<string, number>();
  for (const row of rows) {
    expect(row.version, `stream ${row.stream}`).toBe((lastVersion.get(row.stream) ?? 0) + 1);
    lastVersion.set(row.stream, row.version);
  }
}, 120_000);

it('a writer idle in its transaction holds readers back, and status shows the lag rather than a healthy stall', async () => {
  const projection = normalizeProjection<pg.ClientBase>({ name: 'held', handlers: { async Held() {} } }, 'held.mjs', 'held');
  await file.store.append('h-1', [{ type: 'Held' }]);
  await olderTransactionsEnded();
  expect((await runProjection(file.store as never, projection as never, { batchSize: 10 })).processed).toBe(1);
  const writer = new pg.Client({ connectionString: file.fresh.url.replace(/[?&]schema=[^&]*/, '') });
  await writer.connect();
  try {
    await writer.query('BEGIN');
    await file.store.append('h-2', [{ type: 'Held' }], 'any', { client: writer });
    // Committed after the open one drew its position: held back behind it.
    await file.store.append('h-3', [{ type: 'Held' }]);
    // Once status reports the held-back event over a second old (15 s at most).
    const deadline = Date.now() + 15_000;
    while (!((await status(file.store as never, [projection as never])).projections[0]!.lagSeconds > 1)) {
      if (Date.now() > deadline) throw new Error('status never reported the held-back event over a second old');
      await sleep(50);
    }
    const run = await runProjection(file.store as never, projection as never, { batchSize: 10 });
    expect(run.processed).toBe(0);
    const report = await status(file.store as never, [projection as never], { maxAgeMs: 1000 });
    expect(report.projections[0]).toMatchObject({ lag: 1, state: 'behind', healthy: false });
    expect(report.projections[0]!.lagSeconds).toBeGreaterThan(1);
    await writer.query('COMMIT');
    await olderTransactionsEnded();
    const after = await runProjection(file.store as never, projection as never, { batchSize: 10 });
    expect(after.processed).toBe(2);
    expect((await status(file.store as never, [projection as never])).projections[0]).toMatchObject({ lag: 0, state: 'up-to-date' });
  } finally {
    await writer.end();
  }
});

it('events a newer transaction committed below the position already reached are still handled, and waited for', async () => {
  const { waitForProjections } = await import('../../src/engine/wait.js');
  const seen: number[] = [];
  const projection = normalizeProjection<pg.ClientBase>(
    {
      name: 'late',
      handlers: {
        async Late(event: { position: number }) {
          seen.push(event.position);
        },
      },
    },
    'late.mjs',
    'late',
  );
  const connect = async () => {
    const client = new pg.Client({ connectionString: file.fresh.url.replace(/[?&]schema=[^&]*/, '') });
    await client.connect();
    return client;
  };
  await file.store.append('late-0', [{ type: 'Late' }]);
  const older = await connect();
  const newer = await connect();
  try {
    await older.query('BEGIN');
    await older.query('SELECT pg_current_xact_id()'); // the older transaction id
    await newer.query('BEGIN');
    await file.store.append('late-1', [{ type: 'Late' }, { type: 'Late' }, { type: 'Late' }], 'any', { client: newer });
    const newerXid = (await newer.query<{ x: string }>('SELECT pg_current_xact_id()::text AS x')).rows[0]!.x;
    await file.store.append('late-2', [{ type: 'Late' }], 'any', { client: older }); // a larger position
    await older.query('COMMIT');
    await olderTransactionsEnded(newerXid);
    const first = await runProjection(file.store as never, projection as never, { batchSize: 2 });
    expect(first.processed).toBe(2); // late-0 and the older transaction's event
    await newer.query('COMMIT');
    // Committed now, below the position the checkpoint shows: pending, and not "reached".
    const waited = await waitForProjections(file.store as never, [projection as never], { timeoutMs: 300, pollMs: 50 });
    expect(waited.outcome).toBe('timed-out');
    await olderTransactionsEnded();
    const second = await runProjection(file.store as never, projection as never, { batchSize: 2 });
    expect(second.processed).toBe(3);
    expect(new Set(seen).size).toBe(5);
    expect((await status(file.store as never, [projection as never])).projections[0]).toMatchObject({ lag: 0, state: 'up-to-date' });
    expect((await waitForProjections(file.store as never, [projection as never], { timeoutMs: 2000, pollMs: 50 })).outcome).toBe('reached');
  } finally {
    await older.end();
    await newer.end();
  }
});
