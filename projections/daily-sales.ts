import type { Database } from 'better-sqlite3';
import { defineProjection } from 'catchup-projections';

/** Aggregate report: orders, revenue and cancellations per day. */
export default defineProjection<Database>({
  name: 'daily-sales',
  version: 1,
  setup(db) {
    db.exec(`CREATE TABLE IF NOT EXISTS daily_sales (
      day TEXT PRIMARY KEY, orders INTEGER NOT NULL DEFAULT 0, revenue_cents INTEGER NOT NULL DEFAULT 0,
      cancelled INTEGER NOT NULL DEFAULT 0, refunded_cents INTEGER NOT NULL DEFAULT 0)`);
    db.exec(`CREATE TABLE IF NOT EXISTS daily_sales_orders (order_id TEXT PRIMARY KEY, total_cents INTEGER NOT NULL)`);
  },
  reset(db) {
    db.exec('DELETE FROM daily_sales; DELETE FROM daily_sales_orders');
  },
  handlers: {
    PaymentCaptured(event, db) {
      const { orderId, amountCents, at } = event.data as { orderId: string; amountCents: number; at: string };
      db.prepare(`INSERT INTO daily_sales (day, orders, revenue_cents) VALUES (?, 1, ?)
                  ON CONFLICT (day) DO UPDATE SET orders = orders + 1, revenue_cents = revenue_cents + excluded.revenue_cents`)
        .run(at.slice(0, 10), amountCents);
      db.prepare('INSERT OR REPLACE INTO daily_sales_orders (order_id, total_cents) VALUES (?, ?)').run(orderId, amountCents);
    },
    OrderCancelled(event, db) {
      const { orderId, at } = event.data as { orderId: string; at: string };
      const paid = db.prepare('SELECT total_cents FROM daily_sales_orders WHERE order_id = ?').get(orderId) as
        | { total_cents: number }
        | undefined;
      db.prepare(`INSERT INTO daily_sales (day, cancelled, refunded_cents) VALUES (?, 1, ?)
                  ON CONFLICT (day) DO UPDATE SET cancelled = cancelled + 1, refunded_cents = refunded_cents + excluded.refunded_cents`)
        .run(at.slice(0, 10), paid?.total_cents ?? 0);
    },
  },
});
