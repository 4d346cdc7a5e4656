/**
 * The interrupted-runs property for set-based projections (`batch`) on every kind of store (see
 * storeKinds): any sequence of runs stopped after random batches, each on a freshly opened store (a
 * restart), with the log appended in pieces between them, the last run alone or in one shared pass,
 * ends in the read model the log dictates, each event applied once (a primary key per event id turns
 * a second application into a fault). On SQLite it is also compared with what the per-event version
 * of the same projections builds in one run.
 */
import type { Database } from 'better-sqlite3';
import fc from 'fast-check';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { NewStreamEvent, StoredEvent } from '../../src/core/events.js';
import { normalizeProjection, type Projection } from '../../src/core/projection.js';
import { runProjection } from '../../src/engine/run/index.js';
import { runProjections as runTogether } from '../../src/engine/run/index.js';
import type { EventStore } from '../../src/ports/event-store.js';
import { storeKinds, type StoreKind } from '../support/backends.js';
import { eventArb, expectedFromLog, runArb } from '../support/ledger-log.js';

const amount = (e: StoredEvent): number => e.data.amount as number;

// SQLite

const SETUP = `CREATE TABLE IF NOT EXISTS ledger_applied (event_id TEXT PRIMARY KEY, position INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS ledger_totals (stream TEXT PRIMARY KEY, sum INTEGER NOT NULL, n INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS credits_applied (event_id TEXT PRIMARY KEY);
  CREATE TABLE IF NOT EXISTS credits_total (total INTEGER NOT NULL);
  INSERT INTO credits_total (total) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM credits_total)`;

/** Set-based: one statement per row kind and batch, totals summed per stream before they are written. */
function sqliteSetBased(): Projection<Database>[] {
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
function sqlitePerEvent(): Projection<Database>[] {
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
            db.prepare(
              `INSERT INTO ledger_totals (stream, sum, n) VALUES (?, ?, 1)
              ON CONFLICT (stream) DO UPDATE SET sum = sum + excluded.sum, n = n + 1`,
            ).run(e.streamId, amount(e));
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

function sqliteReadModel(db: Database): ReadModel {
  return {
    ledger: db.prepare('SELECT event_id FROM ledger_applied ORDER BY position').pluck().all(),
    totals: db.prepare('SELECT stream, sum, n FROM ledger_totals ORDER BY stream').all(),
    credits: db.prepare('SELECT event_id FROM credits_applied ORDER BY event_id').pluck().all(),
    creditTotal: db.prepare('SELECT total FROM credits_total').pluck().get(),
  };
}

// PostgreSQL

/** Set-based on PostgreSQL: one multi-row statement per batch (unnest), ids kept in the order applied (seq). */
function postgresSetBased(s: string): Projection<pg.ClientBase>[] {
  const ledger = normalizeProjection<pg.ClientBase>(
    {
      name: 'ledger',
      async setup(db: pg.ClientBase) {
        await db.query(`CREATE TABLE IF NOT EXISTS "${s}".ledger_applied (event_id text PRIMARY KEY, seq bigserial)`);
        await db.query(`CREATE TABLE IF NOT EXISTS "${s}".ledger_totals (stream text PRIMARY KEY, sum int NOT NULL, n int NOT NULL)`);
      },
      async batch(events: readonly StoredEvent[], db: pg.ClientBase) {
        // WITH ORDINALITY keeps the batch's order in seq.
        await db.query(`INSERT INTO "${s}".ledger_applied (event_id) SELECT id FROM unnest($1::text[]) WITH ORDINALITY AS t(id, i) ORDER BY i`, [
          events.map((e) => e.id),
        ]);
        await db.query(
          `INSERT INTO "${s}".ledger_totals (stream, sum, n)
           SELECT stream, sum(amount), count(*) FROM unnest($1::text[], $2::int[]) AS t(stream, amount) GROUP BY stream
           ON CONFLICT (stream) DO UPDATE SET sum = ledger_totals.sum + excluded.sum, n = ledger_totals.n + excluded.n`,
          [events.map((e) => e.streamId), events.map(amount)],
        );
      },
    },
    'ledger.mjs',
    'ledger',
  );
  const credits = normalizeProjection<pg.ClientBase>(
    {
      name: 'credits',
      events: ['A', 'B'],
      async setup(db: pg.ClientBase) {
        await db.query(`CREATE TABLE IF NOT EXISTS "${s}".credits_applied (event_id text PRIMARY KEY)`);
        await db.query(`CREATE TABLE IF NOT EXISTS "${s}".credits_total (total int NOT NULL)`);
        await db.query(`INSERT INTO "${s}".credits_total (total) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM "${s}".credits_total)`);
      },
      async batch(events: readonly StoredEvent[], db: pg.ClientBase) {
        await db.query(`INSERT INTO "${s}".credits_applied (event_id) SELECT unnest($1::text[])`, [events.map((e) => e.id)]);
        const delta = events.reduce((sum, e) => sum + (e.type === 'A' ? amount(e) : -amount(e)), 0);
        await db.query(`UPDATE "${s}".credits_total SET total = total + $1`, [delta]);
      },
    },
    'credits.mjs',
    'credits',
  );
  return [ledger, credits];
}

async function postgresReadModel(db: pg.ClientBase, s: string): Promise<ReadModel> {
  return {
    ledger: (await db.query(`SELECT event_id FROM "${s}".ledger_applied ORDER BY seq`)).rows.map((r) => r.event_id),
    totals: (await db.query(`SELECT stream, sum, n FROM "${s}".ledger_totals ORDER BY stream`)).rows,
    credits: (await db.query(`SELECT event_id FROM "${s}".credits_applied ORDER BY event_id`)).rows.map((r) => r.event_id),
    creditTotal: (await db.query(`SELECT total FROM "${s}".credits_total`)).rows[0].total,
  };
}

interface ReadModel {
  ledger: unknown[];
  totals: unknown[];
  credits: unknown[];
  creditTotal: unknown;
}

/** What differs between the stores: the sizes the property runs at, and the projections' SQL. */
interface Flavour {
  numRuns: number;
  log: { minLength: number; maxLength: number };
  runs: { minLength: number; maxLength: number };
  /** Runs cut short over all cases, at least: the property is only worth something if runs really were. */
  interruptions: number;
  timeout: number;
  setBased(store: EventStore<any>): Projection<unknown>[];
  readModel(store: EventStore<any>): Promise<ReadModel>;
  /** The per-event version of the same projections, to compare with (run once on a store of its own). */
  perEvent?(): Projection<unknown>[];
}

const schemaOf = (store: EventStore<any>): string => (store as unknown as { schema: string }).schema;

const FLAVOURS: Record<StoreKind['name'], Flavour> = {
  sqlite: {
    numRuns: 40,
    log: { minLength: 50, maxLength: 300 },
    runs: { minLength: 1, maxLength: 8 },
    interruptions: 40,
    timeout: 120_000,
    setBased: () => sqliteSetBased() as Projection<unknown>[],
    readModel: async (store) => sqliteReadModel(store.readModel as Database),
    perEvent: () => sqlitePerEvent() as Projection<unknown>[],
  },
  postgres: {
    numRuns: 25,
    log: { minLength: 30, maxLength: 200 },
    runs: { minLength: 1, maxLength: 6 },
    interruptions: 20,
    timeout: 300_000,
    setBased: (store) => postgresSetBased(schemaOf(store)) as Projection<unknown>[],
    readModel: (store) => postgresReadModel(store.readModel as pg.ClientBase, schemaOf(store)),
  },
};

describe.each(storeKinds())('set-based projections on %s', (kind) => {
  const flavour = FLAVOURS[kind.name];

  it(
    'interrupted and restarted set-based runs end in the read model the log dictates, each event applied once',
    async () => {
      let counter = 0;
      let interruptions = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(eventArb, flavour.log),
          fc.array(runArb, flavour.runs),
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
            const place = kind.place();
            try {
              let appended = 0;
              for (const run of runs) {
                // Each run on a store opened afresh (a restart): nothing carries over in memory.
                const store = await place.open();
                try {
                  const upTo = Math.min(events.length, appended + run.add);
                  if (upTo > appended) await store.appendMany(events.slice(appended, upTo));
                  appended = upTo;
                  for (const projection of flavour.setBased(store)) {
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
              const store = await place.open();
              try {
                if (appended < events.length) await store.appendMany(events.slice(appended));
                // The last run must see every event: none held back behind another test's open transaction.
                await kind.settle(store);
                // The last run alone or in the shared pass over both projections.
                const [ledger, credits] = flavour.setBased(store);
                const finals = together
                  ? await runTogether(store, [ledger!, credits!], { batchSize: finalBatch })
                  : [await runProjection(store, ledger!, { batchSize: finalBatch }), await runProjection(store, credits!, { batchSize: finalBatch })];
                for (const result of finals) expect(result.state).toBe('up-to-date');

                const got = await flavour.readModel(store);
                if (flavour.perEvent) {
                  const { store: reference, cleanup } = await kind.open();
                  try {
                    await reference.appendMany(events);
                    await kind.settle(reference);
                    for (const projection of flavour.perEvent()) await runProjection(reference, projection, { batchSize: 1000 });
                    expect(got).toEqual(await flavour.readModel(reference));
                  } finally {
                    await cleanup();
                  }
                }
                expect(got.ledger).toEqual(events.map((e) => e.id));
                const expected = expectedFromLog(log);
                expect(got.totals).toEqual(expected.totals);
                expect(got.creditTotal).toBe(expected.creditTotal);
                expect(got.credits).toHaveLength(expected.credited);
              } finally {
                await store.close();
              }
            } finally {
              await place.drop();
            }
          },
        ),
        { numRuns: flavour.numRuns },
      );
      expect(interruptions).toBeGreaterThan(flavour.interruptions);
    },
    flavour.timeout,
  );
});
