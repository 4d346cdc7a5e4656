// The floor: a hand-written better-sqlite3 loop doing the same work as the benchmark projections.
// Reads in position order, parses each event's data, runs the same upsert, and saves the position as
// a checkpoint event (expected version checked, stream trimmed to 10), one transaction per batch.
// Usage: node bench/floor.js <store.db> <streams|five> [batchSize]; prints one JSON line.
import { randomUUID } from 'node:crypto';
import Sqlite from 'better-sqlite3';
import * as sql from './projections/_sql.mjs';

const [path, set = 'streams', batchArg = '1000'] = process.argv.slice(2);
const batchSize = Number(batchArg);
const started = performance.now();
const db = new Sqlite(path, { timeout: 5000 });
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
// As es's store sets it (src/drivers/sqlite/store.ts): the same pragmas for both sides.
db.pragma('wal_autocheckpoint = 10000');

const names = set === 'five' ? ['streams', 'customers', 'skus', 'daily', 'revenue'] : ['streams'];
for (const name of names) db.exec(sql[name].table);

const read = db.prepare(
  `SELECT position, id, stream_id, version, type, data, metadata, recorded_at FROM events
   WHERE position > ? AND system = 0 ORDER BY position LIMIT ?`,
);
const up = Object.fromEntries(names.map((name) => [name, db.prepare(sql[name].upsert)]));
const currentVersion = db.prepare('SELECT max(version) AS v FROM events WHERE stream_id = ?').pluck();
const insertEvent = db.prepare(
  // A system row repeats the previous row's ordinal (src/drivers/sqlite/ordinals.ts), as es writes it.
  `INSERT INTO events (id, stream_id, version, type, data, metadata, recorded_at, system, seq)
   VALUES (?, ?, ?, ?, ?, '{}', ?, 1, (SELECT seq FROM events ORDER BY position DESC LIMIT 1))`,
);
const trim = db.prepare('DELETE FROM events WHERE stream_id = ? AND version <= ?');
const checkpoints = names.map((name) => ({ stream: `$checkpoint-floor-${name}`, version: 0 }));

// Like a rebuild: empty the read models and the checkpoint streams first.
db.transaction(() => {
  for (const name of names) db.exec(sql[name].reset);
  for (const c of checkpoints) db.prepare('DELETE FROM events WHERE stream_id = ?').run(c.stream);
}).immediate();

function saveCheckpoint(c, position) {
  const current = currentVersion.get(c.stream) ?? 0;
  if (current !== c.version) throw new Error(`checkpoint conflict on ${c.stream}`);
  const version = current + 1;
  insertEvent.run(randomUUID(), c.stream, version, 'Checkpoint', JSON.stringify({ position, version: 1 }), new Date().toISOString());
  if (version > 10) trim.run(c.stream, version - 10);
  c.version = version;
}

const applyStreams = (row, data) => up.streams.run(row.stream_id, row.type, row.position, data.at);
function applyFive(row, data) {
  applyStreams(row, data);
  up.daily.run(row.recorded_at.slice(0, 10), row.type);
  switch (row.type) {
    case 'OrderPlaced':
      up.customers.run(data.customerId, 1, 0, 0, data.at);
      break;
    case 'PaymentFailed':
      up.customers.run(data.customerId, 0, 1, 0, data.at);
      break;
    case 'PaymentCaptured':
      up.customers.run(data.customerId, 0, 0, data.amountCents, data.at);
      up.revenue.run(data.at.slice(0, 10), data.method, data.amountCents);
      break;
    case 'ItemAdded':
      up.skus.run(data.sku, data.qty, 1);
      break;
    case 'ItemRemoved':
      up.skus.run(data.sku, -data.qty, -1);
      break;
  }
}
const apply = set === 'five' ? applyFive : applyStreams;

const batch = db.transaction((after) => {
  const rows = read.all(after, batchSize);
  if (rows.length === 0) return { count: 0, last: after };
  for (const row of rows) apply(row, JSON.parse(row.data));
  const last = rows[rows.length - 1].position;
  for (const c of checkpoints) saveCheckpoint(c, last);
  return { count: rows.length, last };
});

const loopStarted = performance.now();
let position = 0;
let events = 0;
for (;;) {
  const { count, last } = batch.immediate(position);
  if (count === 0) break;
  events += count;
  position = last;
}
const loopMs = performance.now() - loopStarted;
db.close();
process.stdout.write(`${JSON.stringify({ set, events, position, loopMs, totalMs: performance.now() - started })}\n`);
