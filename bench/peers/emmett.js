// Peer: the same `streams` projection (bench/projections/streams.mjs) on Emmett's SQLite event
// store, fed the same events as es (copied from an es store in position order).
// Usage: node bench/peers/emmett.js <es-store.db> <emmett.db> [batchSize] [pullingFrequencyInMs] [defaultsEvents]
// defaultsEvents: also time the consumer with Emmett's default pulling (batch 100, 50 ms) over
// that many events (0: skip).
// Prints one JSON line. Needs `npm --prefix bench/peers install`.
import { existsSync, renameSync, rmSync } from 'node:fs';
import Sqlite from 'better-sqlite3';
import {
  appendToStream,
  createEventStoreSchema,
  getSQLiteEventStore,
  readMessagesBatch,
  sqliteConnection,
  storeProcessorCheckpoint,
} from '@event-driven-io/emmett-sqlite';
import { streams } from '../projections/_sql.mjs';

const [source, target, batchArg = '1000', pullArg = '0', defaultsArg = '0'] = process.argv.slice(2);
const batchSize = Number(batchArg);
const pullingFrequencyInMs = Number(pullArg);
const defaultsEvents = Number(defaultsArg);

/** Copies the es log into a fresh Emmett store: one appendToStream per event, in position order. */
async function build() {
  const tmp = `${target}.partial`;
  for (const f of [tmp, `${tmp}-wal`, `${tmp}-shm`]) rmSync(f, { force: true });
  const connection = sqliteConnection({ fileName: tmp });
  await createEventStoreSchema(connection);
  const es = new Sqlite(source, { readonly: true });
  const rows = es.prepare('SELECT stream_id, type, data FROM events WHERE system = 0 ORDER BY position').iterate();
  const started = performance.now();
  let count = 0;
  let done = false;
  while (!done) {
    // Many appends per transaction (Emmett's withTransaction nests), or the copy alone takes minutes.
    await connection.withTransaction(async () => {
      for (let i = 0; i < 5000; i++) {
        const next = rows.next();
        if (next.done) {
          done = true;
          return;
        }
        const row = next.value;
        await appendToStream(connection, row.stream_id, 'order', [{ type: row.type, data: JSON.parse(row.data) }]);
        count++;
      }
    });
  }
  es.close();
  connection.close();
  await new Promise((r) => setTimeout(r, 100));
  renameSync(tmp, target);
  return { count, buildMs: performance.now() - started };
}

const TYPES = ['OrderCreated', 'ItemAdded', 'ItemRemoved', 'OrderPlaced', 'PaymentFailed', 'PaymentCaptured', 'OrderShipped'];

/** The streams projection as an Emmett projection definition: one upsert per event. */
const projection = {
  name: 'streams',
  canHandle: TYPES,
  handle: async (events, { connection }) => {
    for (const event of events) {
      await connection.command(streams.upsert, [event.metadata.streamName, event.type, Number(event.metadata.globalPosition), event.data.at]);
    }
  },
};

async function prepare(connection) {
  await connection.command(streams.table);
  await connection.command(streams.reset);
  await connection.command(`DELETE FROM emt_subscriptions`);
}

async function lastPosition(connection) {
  const row = await connection.querySingle('SELECT max(global_position) AS p, count(*) AS n FROM emt_messages');
  return { last: BigInt(row.p), count: row.n };
}

/** Emmett's own catch-up: an event store consumer with a projection processor, from the beginning. */
async function consumerCatchUp(pulling, limit) {
  const setup = sqliteConnection({ fileName: target });
  await prepare(setup);
  const all = await lastPosition(setup);
  setup.close();
  // Positions are 1..n in a fresh Emmett store, so the limit-th event is at position `limit`.
  const count = limit ? Math.min(limit, all.count) : all.count;
  const last = limit ? BigInt(count) : all.last;
  const store = getSQLiteEventStore({ fileName: target, schema: { autoMigration: 'None' } });
  const consumer = store.consumer(pulling ? { pulling } : {});
  consumer.processor({
    processorId: 'streams',
    projection,
    startFrom: 'BEGINNING',
    stopAfter: (message) => message.metadata.globalPosition === last,
  });
  const started = performance.now();
  await consumer.start();
  const ms = performance.now() - started;
  await consumer.close();
  const check = sqliteConnection({ fileName: target });
  const rows = await check.querySingle('SELECT count(*) AS n, sum(events) AS e FROM bench_streams');
  check.close();
  return { count, ms, streams: rows.n, applied: rows.e };
}

/**
 * Emmett's primitives used the lean way: readMessagesBatch, the same handler, one checkpoint per
 * batch, one transaction per batch. Shows how much is the async driver and how much the consumer.
 */
async function primitivesCatchUp() {
  const connection = sqliteConnection({ fileName: target });
  await prepare(connection);
  const { last, count } = await lastPosition(connection);
  const started = performance.now();
  let after = 0n;
  let checkpoint = null;
  while (after < last) {
    const { messages, currentGlobalPosition } = await readMessagesBatch(connection, { after, batchSize });
    if (messages.length === 0) break;
    await connection.withTransaction(async () => {
      await projection.handle(messages, { connection });
      await storeProcessorCheckpoint(connection, {
        processorId: 'streams-lean',
        version: 1,
        lastProcessedPosition: checkpoint,
        newPosition: currentGlobalPosition,
      });
    });
    checkpoint = currentGlobalPosition;
    after = currentGlobalPosition;
  }
  const ms = performance.now() - started;
  connection.close();
  return { count, ms };
}

const built = existsSync(target) ? null : await build();
const consumer = await consumerCatchUp({ batchSize, pullingFrequencyInMs });
const primitives = await primitivesCatchUp();
const defaults = defaultsEvents > 0 ? await consumerCatchUp(null, defaultsEvents) : null;
process.stdout.write(
  `${JSON.stringify({
    events: consumer.count,
    buildMs: built?.buildMs ?? null,
    batchSize,
    pullingFrequencyInMs,
    consumerMs: consumer.ms,
    consumerEventsPerSec: consumer.count / (consumer.ms / 1000),
    consumerApplied: consumer.applied,
    primitivesMs: primitives.ms,
    primitivesEventsPerSec: primitives.count / (primitives.ms / 1000),
    defaultsEvents: defaults?.count ?? null,
    defaultsMs: defaults?.ms ?? null,
    defaultsEventsPerSec: defaults ? defaults.count / (defaults.ms / 1000) : null,
    defaultsApplied: defaults?.applied ?? null,
  })}\n`,
);
// sqlite3 may leave handles that keep the loop alive.
setTimeout(() => process.exit(0), 50);
