// The hand-written publisher loop es is measured against (bench/publish.js): the same store, the
// same client library, the same messages (body, id, headers), read in batches of 1,000; each batch
// published all at once (no per-stream limit), every acknowledgement awaited, then a checkpoint
// row written. What a careful programmer writes in an afternoon, without es's ordering guarantee.
// usage: node bench/publish-floor.mjs <store.db> <nats://…|amqp://…> <subject prefix | exchange>
// Prints { events, ms } as JSON.
import Database from 'better-sqlite3';

const [dbPath, url, target] = process.argv.slice(2);
const BATCH = 1000;
const db = new Database(dbPath);
db.exec('CREATE TABLE IF NOT EXISTS floor_checkpoint (name TEXT PRIMARY KEY, position INTEGER)');
const page = db.prepare(
  'SELECT position, id, stream_id AS streamId, version, type, data, metadata, recorded_at AS recordedAt FROM events WHERE position > ? AND system = 0 ORDER BY position LIMIT ?',
);
const save = db.prepare('INSERT INTO floor_checkpoint VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET position = excluded.position');

const started = performance.now();
let publishBatch;
let close;
if (url.startsWith('nats://')) {
  const { connect, headers } = await import('@nats-io/transport-node');
  const { jetstream } = await import('@nats-io/jetstream');
  const nc = await connect({ servers: new URL(url).host });
  const js = jetstream(nc);
  publishBatch = (events) =>
    Promise.all(
      events.map((e) => {
        const h = headers();
        h.set('Es-Position', String(e.position));
        h.set('Es-Stream', e.streamId);
        h.set('Es-Version', String(e.version));
        h.set('Es-Type', e.type);
        return js.publish(`${target}.${e.type}`, JSON.stringify(e), { msgID: e.id, headers: h });
      }),
    );
  close = () => nc.close();
} else {
  const amqp = (await import('amqplib')).default;
  const conn = await amqp.connect(url);
  const ch = await conn.createConfirmChannel();
  const returned = new Set();
  ch.on('return', (m) => returned.add(m.properties.messageId));
  publishBatch = (events) =>
    Promise.all(
      events.map(
        (e) =>
          new Promise((resolve, reject) => {
            const headers = { 'Es-Position': String(e.position), 'Es-Stream': e.streamId, 'Es-Version': String(e.version), 'Es-Type': e.type };
            const options = { mandatory: true, persistent: true, messageId: e.id, type: e.type, contentType: 'application/json', headers };
            ch.publish(target, `${e.streamId}.${e.type}`, Buffer.from(JSON.stringify(e)), options, (err) =>
              err || returned.has(e.id) ? reject(err ?? new Error('returned')) : resolve(),
            );
          }),
      ),
    );
  close = () => conn.close();
}

let position = 0;
let events = 0;
for (;;) {
  const rows = page.all(position, BATCH);
  if (rows.length === 0) break;
  const batch = rows.map((r) => ({ ...r, data: JSON.parse(r.data), metadata: JSON.parse(r.metadata) }));
  await publishBatch(batch);
  position = rows[rows.length - 1].position;
  save.run('floor', position);
  events += rows.length;
}
const ms = performance.now() - started;
await close();
process.stdout.write(`${JSON.stringify({ events, ms })}\n`);
