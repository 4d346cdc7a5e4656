/**
 * The interrupted-runs property on PostgreSQL: any sequence of runs stopped after random batches,
 * with the log appended in pieces between them, ends in the read model the log dictates, each event
 * applied once (a primary key per event id turns a second application into a fault).
 */
import fc from 'fast-check';
import { eventArb, expectedFromLog, runArb } from '../support/ledger-log.js';
import type pg from 'pg';
import { expect, it } from 'vitest';
import type { NewStreamEvent, StoredEvent } from '../../src/core/events.js';
import { normalizeProjection, type Projection } from '../../src/core/projection.js';
import { runProjection } from '../../src/engine/run/index.js';
import { PostgresEventStore } from '../../src/drivers/postgres/store.js';
import { freshPgStore } from '../support/pg.js';

function projections(s: string): Projection<pg.ClientBase>[] {
  const ledger = normalizeProjection<pg.ClientBase>(
    {
      name: 'ledger',
      async setup(db: pg.ClientBase) {
        await db.query(`CREATE TABLE IF NOT EXISTS "${s}".ledger_applied (event_id text PRIMARY KEY, seq bigserial)`);
        await db.query(`CREATE TABLE IF NOT EXISTS "${s}".ledger_totals (stream text PRIMARY KEY, sum int NOT NULL, n int NOT NULL)`);
      },
      handlers: {
        async '*'(event: StoredEvent, db: pg.ClientBase) {
          await db.query(`INSERT INTO "${s}".ledger_applied (event_id) VALUES ($1)`, [event.id]);
          await db.query(
            `INSERT INTO "${s}".ledger_totals (stream, sum, n) VALUES ($1, $2, 1)
             ON CONFLICT (stream) DO UPDATE SET sum = ledger_totals.sum + excluded.sum, n = ledger_totals.n + 1`,
            [event.streamId, event.data.amount],
          );
        },
      },
    },
    'ledger.mjs',
    'ledger',
  );
  const credit = (sign: number) => async (event: StoredEvent, db: pg.ClientBase) => {
    await db.query(`INSERT INTO "${s}".credits_applied (event_id) VALUES ($1)`, [event.id]);
    await db.query(`UPDATE "${s}".credits_total SET total = total + $1`, [sign * (event.data.amount as number)]);
  };
  const credits = normalizeProjection<pg.ClientBase>(
    {
      name: 'credits',
      async setup(db: pg.ClientBase) {
        await db.query(`CREATE TABLE IF NOT EXISTS "${s}".credits_applied (event_id text PRIMARY KEY)`);
        await db.query(`CREATE TABLE IF NOT EXISTS "${s}".credits_total (total int NOT NULL)`);
        await db.query(`INSERT INTO "${s}".credits_total (total) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM "${s}".credits_total)`);
      },
      handlers: { A: credit(1), B: credit(-1) },
    },
    'credits.mjs',
    'credits',
  );
  return [ledger, credits];
}


it('interrupted runs on PostgreSQL end in the read model the log dictates, each event applied once', async () => {
  let interruptions = 0;
  let counter = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.array(eventArb, { minLength: 30, maxLength: 200 }),
      fc.array(runArb, { minLength: 1, maxLength: 6 }),
      fc.integer({ min: 1, max: 500 }),
      async (log, runs, finalBatch) => {
        counter += 1;
        const fresh = freshPgStore();
        const store = await PostgresEventStore.open(fresh.url, { create: true });
        const s = fresh.schema;
        try {
          const events: NewStreamEvent[] = log.map((e, i) => ({
            id: `ev-${counter}-${i}`,
            streamId: `acct-${e.stream}`,
            type: e.type,
            data: { amount: e.amount },
          }));
          let appended = 0;
          for (const run of runs) {
            const upTo = Math.min(events.length, appended + run.add);
            if (upTo > appended) await store.appendMany(events.slice(appended, upTo));
            appended = upTo;
            for (const projection of projections(s)) {
              const controller = new AbortController();
              let batches = -1;
              const result = await runProjection(store, projection, {
                batchSize: run.batchSize,
                signal: controller.signal,
                onProgress: () => {
                  batches += 1;
                  if (batches >= run.stopAfter) controller.abort();
                },
              });
              expect(result.error).toBeNull();
              if (result.interrupted) interruptions += 1;
            }
          }
          if (appended < events.length) await store.appendMany(events.slice(appended));
          for (const projection of projections(s)) {
            expect((await runProjection(store, projection, { batchSize: finalBatch })).state).toBe('up-to-date');
          }
          const db = store.readModel;
          const ledger = (await db.query(`SELECT event_id FROM "${s}".ledger_applied ORDER BY seq`)).rows.map((r) => r.event_id);
          expect(ledger).toEqual(events.map((e) => e.id));
          const expected = expectedFromLog(log);
          const totals = (await db.query(`SELECT stream, sum, n FROM "${s}".ledger_totals ORDER BY stream`)).rows;
          expect(totals).toEqual(expected.totals);
          expect((await db.query(`SELECT total FROM "${s}".credits_total`)).rows[0].total).toBe(expected.creditTotal);
          const credited = (await db.query(`SELECT count(*)::int AS n FROM "${s}".credits_applied`)).rows[0].n;
          expect(credited).toBe(expected.credited);
        } finally {
          await store.close();
          await fresh.drop();
        }
      },
    ),
    { numRuns: 25 },
  );
  expect(interruptions).toBeGreaterThan(20);
}, 300_000);
