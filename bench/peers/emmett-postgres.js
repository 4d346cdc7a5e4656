// Peer: the same `streams` projection (bench/postgres/streams.mjs: one awaited upsert per event) on
// Emmett's PostgreSQL event store, fed the same events as es (bench/lib/generate.js's eventSource(),
// the same count), in a database of its own.
// Usage: node bench/peers/emmett-postgres.js <server-url> <database> <events> [batchSize]
// The database is (re)filled when it does not hold exactly <events> messages, one appendToStream per
// event in log order (not timed). Then Emmett rebuilds the projection with its own rebuild API
// (rebuildPostgreSQLProjections: a consumer with a projector that truncates on start, reads
// <batchSize> messages a pull, one transaction per batch, storing its checkpoint after each message
// as Emmett's projector does). Prints one JSON line: {processed, ms, buildMs}, ms from before the
// consumer is created (its pool connects) to its close, in this process.
// Needs `npm --prefix bench/peers install`.
import pg from 'pg';
import { getPostgreSQLEventStore, postgreSQLProjection, rebuildPostgreSQLProjections } from 'es-bench-emmett-postgresql';
import { eventSource } from '../lib/generate.js';
import { TABLE, UPSERT } from '../postgres/streams.mjs';

const [serverUrl, database, eventsArg, batchArg = '1000'] = process.argv.slice(2);
const events = Number(eventsArg);
const batchSize = Number(batchArg);
if (!serverUrl || !/^[a-z_][a-z0-9_]*$/.test(database ?? '') || !(events > 0)) {
  process.stderr.write('usage: node bench/peers/emmett-postgres.js <server-url> <database> <events> [batchSize]\n');
  process.exit(2);
}

const target = (() => {
  const u = new URL(serverUrl);
  u.pathname = `/${database}`;
  u.search = '';
  return u.toString();
})();

async function messageCount() {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  const exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database])).rows.length > 0;
  await admin.end();
  if (!exists) return 0;
  const client = new pg.Client({ connectionString: target });
  await client.connect();
  try {
    const { rows } = await client.query(`SELECT to_regclass('emt_messages') AS t`);
    if (!rows[0].t) return 0;
    return Number((await client.query('SELECT count(*) FROM emt_messages')).rows[0].count);
  } finally {
    await client.end();
  }
}

/** A fresh database holding the log: one appendToStream per event, in the generator's order. */
async function build() {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  const { rows } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
  if (rows.length > 0) await admin.query(`DROP DATABASE "${database}"`);
  await admin.query(`CREATE DATABASE "${database}"`);
  await admin.end();
  const store = getPostgreSQLEventStore(target, { schema: { autoMigration: 'CreateOrUpdate' } });
  await store.schema.migrate();
  const started = performance.now();
  const source = eventSource();
  for (let i = 0; i < events; i++) {
    const row = source.next();
    await store.appendToStream(row.streamId, [{ type: row.type, data: JSON.parse(row.data) }]);
  }
  await store.close();
  return performance.now() - started;
}

const TYPES = ['OrderCreated', 'ItemAdded', 'ItemRemoved', 'OrderPlaced', 'PaymentFailed', 'PaymentCaptured', 'OrderShipped'];
let processed = 0;

/** The streams projection as an Emmett PostgreSQL projection: the same upsert, per event, awaited. */
const projection = postgreSQLProjection({
  name: 'streams',
  canHandle: TYPES,
  init: async ({ context }) => {
    await context.execute.command(TABLE);
  },
  truncate: async (context) => {
    await context.execute.command('DELETE FROM bench_streams');
  },
  handle: async (messages, { connection }) => {
    // The transaction's own client, so that the upsert runs with bound parameters as es's does
    // (dumbo's SQL helper would format the values into the text instead).
    for (const event of messages) {
      await connection.client.query(UPSERT, [event.metadata.streamName, event.type, Number(event.metadata.globalPosition), event.data.at]);
      processed++;
    }
  },
});

const have = await messageCount();
const buildMs = have === events ? null : await build();

{
  // A rebuild starts from no checkpoint, as es's does.
  const client = new pg.Client({ connectionString: target });
  await client.connect();
  await client.query(`DELETE FROM emt_processors`);
  await client.end();
}

const started = performance.now();
const consumer = rebuildPostgreSQLProjections({
  connectionString: target,
  pulling: { batchSize, pullingFrequencyInMs: 0 },
  projections: [projection],
});
await consumer.start();
await consumer.close();
const ms = performance.now() - started;

const check = new pg.Client({ connectionString: target });
await check.connect();
const applied = Number((await check.query('SELECT coalesce(sum(events), 0) AS n FROM bench_streams')).rows[0].n);
await check.end();
if (applied !== events || processed !== events) {
  process.stderr.write(`emmett-postgres: ${processed} events handled, ${applied} applied, of ${events}\n`);
  process.exit(1);
}
process.stdout.write(`${JSON.stringify({ processed, ms: Math.round(ms), buildMs: buildMs === null ? null : Math.round(buildMs) })}\n`);
