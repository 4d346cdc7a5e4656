/**
 * The interrupted-runs property on every kind of store (see storeKinds): any sequence of runs stopped
 * after random batches, with the log appended in pieces between them, ends in the read model the log
 * dictates, each event applied once (a primary key per event id turns a second application into a
 * fault). On SQLite it is also compared with one uninterrupted run on a store of its own.
 */
import type { Database } from 'better-sqlite3';
import fc from 'fast-check';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { NewStreamEvent, StoredEvent } from '../../src/core/events.js';
import { normalizeProjection, type Projection } from '../../src/core/projection.js';
import { runProjection } from '../../src/engine/run/index.js';
import type { EventStore } from '../../src/ports/event-store.js';
import { storeKinds, type StoreKind } from '../support/backends.js';
import { eventArb, expectedFromLog, runArb } from '../support/ledger-log.js';

interface ReadModel {
  ledger: unknown[];
  totals: unknown[];
  credits: unknown[];
  creditTotal: unknown;
}

/** What differs between the stores: the sizes the property runs at, and the read models' SQL. */
interface Flavour {
  numRuns: number;
  log: { minLength: number; maxLength: number };
  runs: { minLength: number; maxLength: number };
  /** Runs cut short over all cases, at least: the property is only worth something if runs really were. */
  interruptions: number;
  /** Also compare with one uninterrupted run on a store of its own. */
  reference: boolean;
  timeout?: number;
  /**
   * Two projections: `ledger` takes every event (one row per event id, PRIMARY KEY, so a second
   * application faults the run), `credits` only types A and B (a sparse reader over two types).
   */
  projections(store: EventStore<any>): Projection<unknown>[];
  readModel(store: EventStore<any>): Promise<ReadModel>;
}

const sqlite: Flavour = {
  numRuns: 40,
  log: { minLength: 50, maxLength: 300 },
  runs: { minLength: 1, maxLength: 8 },
  interruptions: 40,
  reference: true,
  projections() {
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
    return [ledger, credits] as Projection<unknown>[];
  },
  async readModel(store) {
    const db = store.readModel as Database;
    return {
      // Positions differ between the stores (checkpoint events take positions too); ids and order do not.
      ledger: db.prepare('SELECT event_id FROM ledger_applied ORDER BY position').pluck().all(),
      totals: db.prepare('SELECT stream, sum, n FROM ledger_totals ORDER BY stream').all(),
      credits: db.prepare('SELECT event_id FROM credits_applied ORDER BY event_id').pluck().all(),
      creditTotal: db.prepare('SELECT total FROM credits_total').pluck().get(),
    };
  },
};

const schemaOf = (store: EventStore<any>): string => (store as unknown as { schema: string }).schema;

const postgres: Flavour = {
  numRuns: 25,
  log: { minLength: 30, maxLength: 200 },
  runs: { minLength: 1, maxLength: 6 },
  interruptions: 20,
  reference: false,
  timeout: 300_000,
  projections(store) {
    const s = schemaOf(store);
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
    return [ledger, credits] as Projection<unknown>[];
  },
  async readModel(store) {
    const s = schemaOf(store);
    const db = store.readModel as pg.ClientBase;
    return {
      // In the order the events were applied.
      ledger: (await db.query(`SELECT event_id FROM "${s}".ledger_applied ORDER BY seq`)).rows.map((r) => r.event_id),
      totals: (await db.query(`SELECT stream, sum, n FROM "${s}".ledger_totals ORDER BY stream`)).rows,
      credits: (await db.query(`SELECT event_id FROM "${s}".credits_applied ORDER BY event_id`)).rows.map((r) => r.event_id),
      creditTotal: (await db.query(`SELECT total FROM "${s}".credits_total`)).rows[0].total,
    };
  },
};

const FLAVOURS: Record<StoreKind['name'], Flavour> = { sqlite, postgres };

describe.each(storeKinds())('interrupted runs on %s', (kind) => {
  const flavour = FLAVOURS[kind.name];

  it(
    'any sequence of interrupted runs ends in the read model of one uninterrupted run, each event applied once',
    async () => {
      let counter = 0;
      let interruptions = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(eventArb, flavour.log), fc.array(runArb, flavour.runs), fc.integer({ min: 1, max: 500 }), async (log, runs, finalBatch) => {
          counter += 1;
          const events: NewStreamEvent[] = log.map((e, i) => ({
            id: `ev-${counter}-${i}`,
            streamId: `acct-${e.stream}`,
            type: e.type,
            data: { amount: e.amount },
          }));
          const { store: interrupted, cleanup } = await kind.open();
          try {
            // The store gets the log in pieces, between runs that are stopped early.
            let appended = 0;
            for (const run of runs) {
              const upTo = Math.min(events.length, appended + run.add);
              if (upTo > appended) await interrupted.appendMany(events.slice(appended, upTo));
              appended = upTo;
              for (const projection of flavour.projections(interrupted)) {
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
                expect(result.error).toBeNull();
                if (result.interrupted) interruptions += 1;
              }
            }
            if (appended < events.length) await interrupted.appendMany(events.slice(appended));
            // The last run must see every event: none held back behind another test's open transaction.
            await kind.settle(interrupted);
            for (const projection of flavour.projections(interrupted)) {
              const result = await runProjection(interrupted, projection, { batchSize: finalBatch });
              expect(result.state).toBe('up-to-date');
            }

            const got = await flavour.readModel(interrupted);
            if (flavour.reference) {
              const { store: reference, cleanup: dropReference } = await kind.open();
              try {
                await reference.appendMany(events);
                await kind.settle(reference);
                for (const projection of flavour.projections(reference)) {
                  const result = await runProjection(reference, projection, { batchSize: 1000 });
                  const wanted = projection.name === 'ledger' ? log : log.filter((e) => e.type === 'A' || e.type === 'B');
                  expect(result.processed).toBe(wanted.length);
                }
                expect(got).toEqual(await flavour.readModel(reference));
              } finally {
                await dropReference();
              }
            }

            // And it equals what the log says, computed directly.
            expect(got.ledger).toEqual(events.map((e) => e.id));
            const expected = expectedFromLog(log);
            expect(got.totals).toEqual(expected.totals);
            expect(got.creditTotal).toBe(expected.creditTotal);
            expect(got.credits).toHaveLength(expected.credited);
          } finally {
            await cleanup();
          }
        }),
        { numRuns: flavour.numRuns },
      );
      expect(interruptions).toBeGreaterThan(flavour.interruptions);
    },
    flavour.timeout,
  );
});
