import type { ClientBase } from 'pg';
import { defineProjection } from 'catchup-projections';

/** Per-entity summary (PostgreSQL): one row per order, kept current as payments and shipments happen. */
export default defineProjection<ClientBase>({
  name: 'order-summary',
  version: 1,
  async setup(db) {
    await db.query(`CREATE TABLE IF NOT EXISTS order_summary (
      order_id text PRIMARY KEY, customer_id text NOT NULL, status text NOT NULL,
      items integer NOT NULL, total_cents bigint NOT NULL,
      placed_at text NOT NULL, paid_at text, shipped_at text, delivered_at text, carrier text)`);
  },
  async reset(db) {
    await db.query('DELETE FROM order_summary');
  },
  handlers: {
    async OrderPlaced(event, db) {
      const { orderId, customerId, items, totalCents, at } = event.data as {
        orderId: string;
        customerId: string;
        items: { quantity: number }[];
        totalCents: number;
        at: string;
      };
      const count = items.reduce((sum, item) => sum + item.quantity, 0);
      // An upsert, so that replay-from can apply this event again.
      await db.query(
        `INSERT INTO order_summary (order_id, customer_id, status, items, total_cents, placed_at)
         VALUES ($1, $2, 'placed', $3, $4, $5)
         ON CONFLICT (order_id) DO UPDATE SET customer_id = excluded.customer_id, status = 'placed',
           items = excluded.items, total_cents = excluded.total_cents, placed_at = excluded.placed_at`,
        [orderId, customerId, count, totalCents, at],
      );
    },
    async PaymentCaptured(event, db) {
      await db.query(`UPDATE order_summary SET status = 'paid', paid_at = $1 WHERE order_id = $2`, [event.data.at, event.data.orderId]);
    },
    async OrderShipped(event, db) {
      await db.query(`UPDATE order_summary SET status = 'shipped', shipped_at = $1, carrier = $2 WHERE order_id = $3`, [
        event.data.at,
        event.data.carrier,
        event.data.orderId,
      ]);
    },
    async OrderDelivered(event, db) {
      await db.query(`UPDATE order_summary SET status = 'delivered', delivered_at = $1 WHERE order_id = $2`, [event.data.at, event.data.orderId]);
    },
    async OrderCancelled(event, db) {
      await db.query(`UPDATE order_summary SET status = 'cancelled' WHERE order_id = $1`, [event.data.orderId]);
    },
  },
});
