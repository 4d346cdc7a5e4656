import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from 'better-sqlite3';
import fc from 'fast-check';
import { eventArb, expectedFromLog, runArb } from '../support/ledger-log.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewStreamEvent, StoredEvent } from '../../src/core/events.js';
import { normalizeProjection, type Projection } from '../../src/core/projection.js';
import { runProjection } from '../../src/engine/run/index.js';
import { SqliteEventStore } from '../../src/drivers/sqlite/store.js';

let root: string;
let counter = 0;
let interruptions = 0;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'es-property-'));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

/**
 * Two projections: `ledger` takes every event (one row per event id, PRIMARY KEY, so a second
 * application faults the run), `credits` only types A and B (a sparse reader over two types).
 */
function projections(): Projection<Database>[] {
  const ledger = normalizeProjection<Database>(
    {
      name: 'ledger',
      setup(db: Database) {
        db.exec(`CREATE TABLE IF NOT EXISTS ledger_applied (event_id TEXT PRIMARY KEY, position INTEGER NOT NULL);
                 CREATE TABLE IF NOT EXISTS ledger_totals (stream TEXT PRIMARY KEY, sum INTEGER NOT NULL, n INTEGER NOT NULL)`);
      },
      handlers: {
        '*': (event: StoredEvent, db: Database) => {
          db.prepare('INSERT INTO ledger_applied (event_id, position) VALUES (?, ?)').run(event.id, event.position);
          db.prepare(
            `INSERT INTO ledger_totals (stream, sum, n) VALUES (?, ?, 1)
             ON CONFLICT (stream) DO UPDATE SET sum = sum + excluded.sum, n = n + 1`,
          ).run(event.streamId, event.data.amount as number);
        },
      },
    },
    'ledger.ts',
    'ledger',
  );
  const credit = (sign: number) => (event: StoredEvent, db: Database) => {
    db.prepare('INSERT INTO credits_applied (event_id) VALUES (?)').run(event.id);
    db.prepare('UPDATE credits_total SET total = total + ?').run(sign * (event.data.amount as number));
  };
  const credits = normalizeProjection<Database>(
    {
      name: 'credits',
      setup(db: Database) {
        db.exec(`CREATE TABLE IF NOT EXISTS credits_applied (event_id TEXT PRIMARY KEY);
                 CREATE TABLE IF NOT EXISTS credits_total (total INTEGER NOT NULL);
                 INSERT INTO credits_total (total) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM credits_total)`);
      },
      handlers: { A: credit(1), B: credit(-1) },
    },
    'credits.ts',
    'credits',
  );
  return [ledger, credits];
}

function readModel(db: Database) {
  return {
    // Positions differ between the stores (checkpoint events take positions too); ids and order do not.
    ledger: db.prepare('SELECT event_id FROM ledger_applied ORDER BY position').pluck().all(),
    totals: db.prepare('SELECT stream, sum, n FROM ledger_totals ORDER BY stream').all(),
    credits: db.prepare('SELECT event_id FROM credits_applied ORDER BY event_id').pluck().all(),
    creditTotal: db.prepare('SELECT total FROM credits_total').pluck().get(),
  };
}


describe('interrupted runs', () => {
  it('any sequence of interrupted runs ends in the read model of one uninterrupted run, each event applied once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(eventArb, { minLength: 50, maxLength: 300 }),
        fc.array(runArb, { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 500 }),
        async (log, runs, finalBatch) => {
          counter += 1;
          const events: NewStreamEvent[] = log.map((e, i) => ({
            id: `ev-${counter}-${i}`,
            streamId: `acct-${e.stream}`,
            type: e.type,
            data: { amount: e.amount },
          }));
          const interrupted = new SqliteEventStore(join(root, `interrupted-${counter}.db`), { create: true });
          const reference = new SqliteEventStore(join(root, `reference-${counter}.db`), { create: true });
          try {
            // The interrupted store gets the log in pieces, between runs that are stopped early.
            let appended = 0;
            for (const run of runs) {
              const upTo = Math.min(events.length, appended + run.add);
              if (upTo > appended) await interrupted.appendMany(events.slice(appended, upTo));
              appended = upTo;
              for (const projection of projections()) {
                const controller = new AbortController();
                let batches = -1; // the first report comes before any batch
                const result = await runProjection(interrupted, projection, {
                  batchSize: run.batchSize,
                  signal: controller.signal,
                  onProgress: () => {
                    batches += 1;
                    if (batches >= run.stopAfter) controller.abort();
                  },
                });
                expect(result.state).not.toBe('faulted');
                if (result.interrupted) interruptions += 1;
              }
            }
            if (appended < events.length) await interrupted.appendMany(events.slice(appended));
            for (const projection of projections()) {
              const result = await runProjection(interrupted, projection, { batchSize: finalBatch });
              expect(result.state).toBe('up-to-date');
            }

            await reference.appendMany(events);
            for (const projection of projections()) {
              const result = await runProjection(reference, projection, { batchSize: 1000 });
              const wanted = projection.name === 'ledger' ? log : log.filter((e) => e.type === 'A' || e.type === 'B');
              expect(result.processed).toBe(wanted.length);
            }

            const got = readModel(interrupted.readModel);
            const want = readModel(reference.readModel);
            expect(got).toEqual(want);

            // And both equal what the log says, computed directly.
            expect(got.ledger).toEqual(events.map((e) => e.id));
            const expected = expectedFromLog(log);
            expect(got.totals).toEqual(expected.totals);
            expect(got.creditTotal).toBe(expected.creditTotal);
            expect(got.credits).toHaveLength(expected.credited);
          } finally {
            await interrupted.close();
            await reference.close();
          }
        },
      ),
      { numRuns: 40 },
    );
    // The property is only worth something if runs really were cut short.
    expect(interruptions).toBeGreaterThan(40);
  });
});
