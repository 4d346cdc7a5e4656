// A RabbitMQ consumer of the events es publishes (projections/ with publish: { to: 'amqp://…',
// exchange: 'shop', routingKey: '{streamId}.{type}' }). es publishes at least once; recording each
// message id in the same transaction as the consumer's own writes applies each event exactly once.
import amqp from 'amqplib';
import Database from 'better-sqlite3';
import { ensureHandledTable, recordMessage } from 'catchup-projections';

const db = new Database(process.env.BILLING_DB ?? 'billing.db');
ensureHandledTable(db); // es_handled, once, outside any transaction
db.exec('CREATE TABLE IF NOT EXISTS invoices (order_id TEXT PRIMARY KEY, total INTEGER)');
const invoice = db.prepare('INSERT INTO invoices VALUES (?, ?)');
const apply = db.transaction((event) => {
  if (!recordMessage(db, 'billing', event)) return false; // a redelivery: applied already
  invoice.run(event.streamId, event.data.total);
  return true;
});

const connection = await amqp.connect(process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672');
const channel = await connection.createChannel();
await channel.assertExchange('shop', 'topic');
await channel.assertQueue('billing'); // durable: it keeps messages while this consumer is down
await channel.bindQueue('billing', 'shop', '*.OrderPlaced');
await channel.prefetch(100);
await channel.consume('billing', (message) => {
  const event = JSON.parse(message.content.toString('utf8')); // the event as `es read --json` prints it
  const applied = apply(event);
  console.log(`${event.position} ${event.type} ${event.streamId}: ${applied ? 'invoiced' : 'duplicate, skipped'}`);
  // Acknowledged after the commit: a crash in between redelivers it, and recordMessage drops the copy.
  channel.ack(message);
});
