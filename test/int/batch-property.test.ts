/**
 * The interrupted-runs property for set-based projections (`batch`) on SQLite: any sequence of runs
 * stopped after random batches, each on a freshly opened store (a restart), with the log appended in
 * pieces between them, ends in the read model of the per-event version of the same projections run
 * once, each event applied once (a primary key per event id turns a second application into a fault).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { NewStreamEvent, StoredEvent } from '../../src/core/events.js';
import { normalizeProjection, type Projection } from '../../src/core/projection.js';
import { runProjection } from '../../src/engine/run/index.js';
import { runProjections as runTogether } from '../../src/engine/run/index.js';
import { SqliteEventStore } from '../../src/drivers/sqlite/store.js';
import { eventArb, expectedFromLog, runArb } from '../support/ledger-log.js';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'es-batch-property-'));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

const SETUP = `CREATE TABLE IF NOT EXISTS ledger_applied (event_id TEXT PRIMARY KEY, position INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS ledger_totals (stream TEXT PRIMARY KEY, sum INTEGER NOT NULL, n INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS credits_applied (event_id TEXT PRIMARY KEY);
  CREATE TABLE IF NOT EXISTS credits_total (total INTEGER NOT NULL);
  INSERT INTO credits_total (total) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM credits_total)`;

const amount = (e: StoredEvent): number => e.data.amount as number;

/** Set-based: one statement per row kind and batch, totals summed per stream before they are written. */
function setBased(): Projection<Database>[] {
  const ledger = normalizeProjection<Database>(
    {
      name: 'ledger',
      setup: (db: Database) => db.exec(SETUP),
      batch(events: readonly StoredEvent[], db: Database) {
        const applied = db.prepare('INSERT INTO ledger_applied (event_id, position) VALUES (?, ?)');
        const sums = new Map<string, { sum: number; n: number }>();
        for (const e of events) {
          applied.run(e.id, e.position);
          const entry = sums.get(e.streamId) ?? { sum: 0, n: 0 };
          sums.set(e.streamId, { sum: entry.sum + amount(e), n: entry.n + 1 });
        }
        const upsert = db.prepare(`INSERT INTO ledger_totals (stream, sum, n) VALUES (?, ?, ?)
          ON CONFLICT (stream) DO UPDATE SET sum = sum + excluded.sum, n = n + excluded.n`);
        for (const [stream, { sum, n }] of sums) upsert.run(stream, sum, n);
      },
    },
    'ledger.ts',
    'ledger',
  );
  const credits = normalizeProjection<Database>(
    {
      name: 'credits',
      events: ['A', 'B'],
      setup: (db: Database) => db.exec(SETUP),
      batch(events: readonly StoredEvent[], db: Database) {
        const applied = db.prepare('INSERT INTO credits_applied (event_id) VALUES (?)');
        let delta = 0;
        for (const e of events) {
          applied.run(e.id);
          delta += e.type === 'A' ? amount(e) : -amount(e);
        }
        db.prepare('UPDATE credits_total SET total = total + ?').run(delta);
      },
    },
    'credits.ts',
    'credits',
  );
  return [ledger, credits];
}

/** The per-event version of the same read model. */
function perEvent(): Projection<Database>[] {
  const credit = (sign: number) => (e: StoredEvent, db: Database) => {
    db.prepare('INSERT INTO credits_applied (event_id) VALUES (?)').run(e.id);
    db.prepare('UPDATE credits_total SET total = total + ?').run(sign * amount(e));
  };
  return [
    normalizeProjection<Database>(
      {
        name: 'ledger',
        setup: (db: Database) => db.exec(SETUP),
        handlers: {
          '*': (e: StoredEvent, db: Database) => {
            db.prepare('INSERT INTO ledger_applied (event_id, position) VALUES (?, ?)').run(e.id, e.position);
            db.prepare(`INSERT INTO ledger_totals (stream, sum, n) VALUES (?, ?, 1)
              ON CONFLICT (stream) DO UPDATE SET sum = sum + excluded.sum, n = n + 1`).run(e.streamId, amount(e));
          },
        },
      },
      'ledger.ts',
      'ledger',
    ),
    normalizeProjection<Database>(
      { name: 'credits', setup: (db: Database) => db.exec(SETUP), handlers: { A: credit(1), B: credit(-1) } },
      'credits.ts',
      'credits',
    ),
  ];
}

function readModel(db: Database) {
  return {
    ledger: db.prepare('SELECT event_id FROM ledger_applied ORDER BY position').pluck().all(),
    totals: db.prepare('SELECT stream, sum, n FROM ledger_totals ORDER BY stream').all(),
    credits: db.prepare('SELECT event_id FROM credits_applied ORDER BY event_id').pluck().all(),
    creditTotal: db.prepare('SELECT total FROM credits_total').pluck().get(),
  };
}

it('interrupted and restarted set-based runs end in the per-event version\'s read model, each event applied once', async () => {
  let counter = 0;
  let interruptions = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.array(eventArb, { minLength: 50, maxLength: 300 }),
      fc.array(runArb, { minLength: 1, maxLength: 8 }),
      fc.integer({ min: 1, max: 500 }),
      fc.boolean(),
      async (log, runs, finalBatch, together) => {
        counter += 1;
        const events: NewStreamEvent[] = log.map((e, i) => ({
          id: `ev-${counter}-${i}`,
          streamId: `acct-${e.stream}`,
          type: e.type,
          data: { amount: e.amount },
        }));
        const path = join(root, `interrupted-${counter}.db`);
        let appended = 0;
        for (const run of runs) {
          // Each run on a store opened afresh: nothing carries over in memory.
          const store = new SqliteEventStore(path, { create: true });
          try {
            const upTo = Math.min(events.length, appended + run.add);
            if (upTo > appended) await store.appendMany(events.slice(appended, upTo));
            appended = upTo;
            for (const projection of setBased()) {
              const controller = new AbortController();
              let batches = -1; // the first report comes before any batch
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
          } finally {
            await store.close();
          }
        }
        const store = new SqliteEventStore(path, { create: true });
        const reference = new SqliteEventStore(join(root, `reference-${counter}.db`), { create: true });
        try {
          if (appended < events.length) await store.appendMany(events.slice(appended));
          // The last run alone or in the shared pass over both projections.
          const finals = together
            ? await runTogether(store, setBased(), { batchSize: finalBatch })
            : [await runProjection(store, setBased()[0]!, { batchSize: finalBatch }), await runProjection(store, setBased()[1]!, { batchSize: finalBatch })];
          for (const result of finals) expect(result.state).toBe('up-to-date');

          await reference.appendMany(events);
          for (const projection of perEvent()) await runProjection(reference, projection, { batchSize: 1000 });
          const got = readModel(store.readModel);
          expect(got).toEqual(readModel(reference.readModel));
          expect(got.ledger).toEqual(events.map((e) => e.id));
          const expected = expectedFromLog(log);
          expect(got.totals).toEqual(expected.totals);
          expect(got.creditTotal).toBe(expected.creditTotal);
          expect(got.credits).toHaveLength(expected.credited);
        } finally {
          await store.close();
          await reference.close();
        }
      },
    ),
    { numRuns: 40 },
  );
  // The property is only worth something if runs really were cut short.
  expect(interruptions).toBeGreaterThan(40);
}, 120_000);
