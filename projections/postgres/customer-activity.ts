import type { ClientBase } from 'pg';
import { defineProjection } from 'catchup-projections';

/** Combines carts, orders and payments into one row per customer (PostgreSQL). */
export default defineProjection<ClientBase>({
  name: 'customer-activity',
  version: 1,
  async setup(db) {
    await db.query(`CREATE TABLE IF NOT EXISTS customer_activity (
      customer_id text PRIMARY KEY, carts integer NOT NULL DEFAULT 0, abandoned_carts integer NOT NULL DEFAULT 0,
      orders integer NOT NULL DEFAULT 0, spent_cents bigint NOT NULL DEFAULT 0,
      failed_payments integer NOT NULL DEFAULT 0, last_seen text)`);
    await db.query(`CREATE TABLE IF NOT EXISTS customer_activity_owners (key text PRIMARY KEY, customer_id text NOT NULL)`);
  },
  async reset(db) {
    await db.query('DELETE FROM customer_activity');
    await db.query('DELETE FROM customer_activity_owners');
  },
  handlers: {
    async CartCreated(event, db) {
      const { cartId, customerId, at } = event.data as { cartId: string; customerId: string; at: string };
      await db.query('INSERT INTO customer_activity_owners (key, customer_id) VALUES ($1, $2)', [cartId, customerId]);
      await db.query(
        `INSERT INTO customer_activity (customer_id, carts, last_seen) VALUES ($1, 1, $2)
         ON CONFLICT (customer_id) DO UPDATE SET carts = customer_activity.carts + 1, last_seen = excluded.last_seen`,
        [customerId, at],
      );
    },
    async CartAbandoned(event, db) {
      await db.query(
        `UPDATE customer_activity SET abandoned_carts = abandoned_carts + 1
         WHERE customer_id = (SELECT customer_id FROM customer_activity_owners WHERE key = $1)`,
        [event.data.cartId],
      );
    },
    async OrderPlaced(event, db) {
      const { orderId, customerId, at } = event.data as { orderId: string; customerId: string; at: string };
      await db.query('INSERT INTO customer_activity_owners (key, customer_id) VALUES ($1, $2)', [orderId, customerId]);
      await db.query('UPDATE customer_activity SET orders = orders + 1, last_seen = $1 WHERE customer_id = $2', [at, customerId]);
    },
    async PaymentCaptured(event, db) {
      await db.query(
        `UPDATE customer_activity SET spent_cents = spent_cents + $1
         WHERE customer_id = (SELECT customer_id FROM customer_activity_owners WHERE key = $2)`,
        [event.data.amountCents, event.data.orderId],
      );
    },
    async PaymentFailed(event, db) {
      await db.query(
        `UPDATE customer_activity SET failed_payments = failed_payments + 1
         WHERE customer_id = (SELECT customer_id FROM customer_activity_owners WHERE key = $1)`,
        [event.data.orderId],
      );
    },
  },
});
