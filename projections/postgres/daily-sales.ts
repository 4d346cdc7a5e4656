import type { ClientBase } from 'pg';
import { defineProjection } from 'catchup-projections';

/** Aggregate report (PostgreSQL): orders, revenue and cancellations per day. */
export default defineProjection<ClientBase>({
  name: 'daily-sales',
  version: 1,
  async setup(db) {
    await db.query(`CREATE TABLE IF NOT EXISTS daily_sales (
      day text PRIMARY KEY, orders integer NOT NULL DEFAULT 0, revenue_cents bigint NOT NULL DEFAULT 0,
      cancelled integer NOT NULL DEFAULT 0, refunded_cents bigint NOT NULL DEFAULT 0)`);
    await db.query(`CREATE TABLE IF NOT EXISTS daily_sales_orders (order_id text PRIMARY KEY, total_cents bigint NOT NULL)`);
  },
  async reset(db) {
    await db.query('DELETE FROM daily_sales');
    await db.query('DELETE FROM daily_sales_orders');
  },
  handlers: {
    async PaymentCaptured(event, db) {
      const { orderId, amountCents, at } = event.data as { orderId: string; amountCents: number; at: string };
      await db.query(
        `INSERT INTO daily_sales (day, orders, revenue_cents) VALUES ($1, 1, $2)
         ON CONFLICT (day) DO UPDATE SET orders = daily_sales.orders + 1, revenue_cents = daily_sales.revenue_cents + excluded.revenue_cents`,
        [at.slice(0, 10), amountCents],
      );
      await db.query(
        `INSERT INTO daily_sales_orders (order_id, total_cents) VALUES ($1, $2)
         ON CONFLICT (order_id) DO UPDATE SET total_cents = excluded.total_cents`,
        [orderId, amountCents],
      );
    },
    async OrderCancelled(event, db) {
      const { orderId, at } = event.data as { orderId: string; at: string };
      await db.query(
        `INSERT INTO daily_sales (day, cancelled, refunded_cents)
         VALUES ($1, 1, coalesce((SELECT total_cents FROM daily_sales_orders WHERE order_id = $2), 0))
         ON CONFLICT (day) DO UPDATE SET cancelled = daily_sales.cancelled + 1,
           refunded_cents = daily_sales.refunded_cents + excluded.refunded_cents`,
        [at.slice(0, 10), orderId],
      );
    },
  },
});
