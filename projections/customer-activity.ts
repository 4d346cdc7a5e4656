import type { Database } from 'better-sqlite3';
import { defineProjection } from 'catchup-projections';

/** Combines carts, orders and payments into one row per customer. */
export default defineProjection<Database>({
  name: 'customer-activity',
  version: 1,
  setup(db) {
    db.exec(`CREATE TABLE IF NOT EXISTS customer_activity (
      customer_id TEXT PRIMARY KEY, carts INTEGER NOT NULL DEFAULT 0, abandoned_carts INTEGER NOT NULL DEFAULT 0,
      orders INTEGER NOT NULL DEFAULT 0, spent_cents INTEGER NOT NULL DEFAULT 0,
      failed_payments INTEGER NOT NULL DEFAULT 0, last_seen TEXT)`);
    db.exec(`CREATE TABLE IF NOT EXISTS customer_activity_owners (key TEXT PRIMARY KEY, customer_id TEXT NOT NULL)`);
  },
  reset(db) {
    db.exec('DELETE FROM customer_activity; DELETE FROM customer_activity_owners');
  },
  handlers: {
    CartCreated(event, db) {
      const { cartId, customerId, at } = event.data as { cartId: string; customerId: string; at: string };
      db.prepare('INSERT INTO customer_activity_owners (key, customer_id) VALUES (?, ?)').run(cartId, customerId);
      db.prepare(
        `INSERT INTO customer_activity (customer_id, carts, last_seen) VALUES (?, 1, ?)
                  ON CONFLICT (customer_id) DO UPDATE SET carts = carts + 1, last_seen = excluded.last_seen`,
      ).run(customerId, at);
    },
    CartAbandoned(event, db) {
      db.prepare(
        `UPDATE customer_activity SET abandoned_carts = abandoned_carts + 1
                  WHERE customer_id = (SELECT customer_id FROM customer_activity_owners WHERE key = ?)`,
      ).run(event.data.cartId);
    },
    OrderPlaced(event, db) {
      const { orderId, customerId, at } = event.data as { orderId: string; customerId: string; at: string };
      db.prepare('INSERT INTO customer_activity_owners (key, customer_id) VALUES (?, ?)').run(orderId, customerId);
      db.prepare('UPDATE customer_activity SET orders = orders + 1, last_seen = ? WHERE customer_id = ?').run(at, customerId);
    },
    PaymentCaptured(event, db) {
      db.prepare(
        `UPDATE customer_activity SET spent_cents = spent_cents + ?
                  WHERE customer_id = (SELECT customer_id FROM customer_activity_owners WHERE key = ?)`,
      ).run(event.data.amountCents, event.data.orderId);
    },
    PaymentFailed(event, db) {
      db.prepare(
        `UPDATE customer_activity SET failed_payments = failed_payments + 1
                  WHERE customer_id = (SELECT customer_id FROM customer_activity_owners WHERE key = ?)`,
      ).run(event.data.orderId);
    },
  },
});
