// A JetStream consumer of the events es publishes (projections/ with publish: { to: 'nats://…',
// subject: 'shop.{type}' }), with a durable consumer and explicit acks. Exactly-once effects as in
// rabbitmq-billing.mjs: the message id is recorded in the consumer's own transaction.
import { connect } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import Database from 'better-sqlite3';
import { ensureHandledTable, recordMessage } from 'catchup-projections';

const db = new Database(process.env.BILLING_DB ?? 'billing.db');
ensureHandledTable(db);
db.exec('CREATE TABLE IF NOT EXISTS invoices (order_id TEXT PRIMARY KEY, total INTEGER)');
const invoice = db.prepare('INSERT INTO invoices VALUES (?, ?)');
const apply = db.transaction((event) => {
  if (!recordMessage(db, 'billing', event)) return false;
  invoice.run(event.streamId, event.data.total);
  return true;
});

const nc = await connect({ servers: process.env.NATS_SERVER ?? '127.0.0.1:4222' });
const jsm = await jetstreamManager(nc);
// The stream es publishes into: it must exist before es runs (no stream for a subject is a fault).
// Its duplicate window (2 minutes by default) already drops a message id it stored in that window.
await jsm.streams.info('SHOP').catch(() => jsm.streams.add({ name: 'SHOP', subjects: ['shop.>'] }));
await jsm.consumers.add('SHOP', { durable_name: 'billing', ack_policy: AckPolicy.Explicit, filter_subject: 'shop.OrderPlaced' });
const consumer = await jetstream(nc).consumers.get('SHOP', 'billing');
for await (const message of await consumer.consume()) {
  const event = message.json();
  const applied = apply(event);
  console.log(`${event.position} ${event.type} ${event.streamId}: ${applied ? 'invoiced' : 'duplicate, skipped'}`);
  message.ack();
}
