import type { Database } from 'better-sqlite3';
import { defineProjection } from 'catchup-projections';

interface Day {
  orders: number;
  revenueCents: number;
  cancelled: number;
  refundedCents: number;
}

/**
 * Aggregate report: orders, revenue and cancellations per day. Set-based: a batch of 1,000 events
 * touches a handful of days, so it sums them in memory and writes each day once.
 */
export default defineProjection<Database>({
  name: 'daily-sales',
  version: 1,
  events: ['PaymentCaptured', 'OrderCancelled'],
  setup(db) {
    db.exec(`CREATE TABLE IF NOT EXISTS daily_sales (
      day TEXT PRIMARY KEY, orders INTEGER NOT NULL DEFAULT 0, revenue_cents INTEGER NOT NULL DEFAULT 0,
      cancelled INTEGER NOT NULL DEFAULT 0, refunded_cents INTEGER NOT NULL DEFAULT 0)`);
    db.exec(`CREATE TABLE IF NOT EXISTS daily_sales_orders (order_id TEXT PRIMARY KEY, total_cents INTEGER NOT NULL)`);
  },
  reset(db) {
    db.exec('DELETE FROM daily_sales; DELETE FROM daily_sales_orders');
  },
  batch(events, db) {
    // What earlier batches paid for the orders this one cancels, in one query.
    const cancelled = events.filter((e) => e.type === 'OrderCancelled').map((e) => e.data.orderId);
    const paidBefore = new Map(
      (
        db
          .prepare('SELECT order_id, total_cents FROM daily_sales_orders WHERE order_id IN (SELECT value FROM json_each(?))')
          .all(JSON.stringify(cancelled)) as { order_id: string; total_cents: number }[]
      ).map((row) => [row.order_id, row.total_cents]),
    );
    const paid = new Map<string, number>();
    const days = new Map<string, Day>();
    for (const event of events) {
      const { orderId, at } = event.data as { orderId: string; at: string };
      const key = at.slice(0, 10);
      const day = days.get(key) ?? { orders: 0, revenueCents: 0, cancelled: 0, refundedCents: 0 };
      days.set(key, day);
      if (event.type === 'PaymentCaptured') {
        const amount = event.data.amountCents as number;
        day.orders += 1;
        day.revenueCents += amount;
        paid.set(orderId, amount);
      } else {
        day.cancelled += 1;
        day.refundedCents += paid.get(orderId) ?? paidBefore.get(orderId) ?? 0;
      }
    }
    const addDay = db.prepare(`INSERT INTO daily_sales (day, orders, revenue_cents, cancelled, refunded_cents) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (day) DO UPDATE SET orders = orders + excluded.orders, revenue_cents = revenue_cents + excluded.revenue_cents,
        cancelled = cancelled + excluded.cancelled, refunded_cents = refunded_cents + excluded.refunded_cents`);
    for (const [key, d] of days) addDay.run(key, d.orders, d.revenueCents, d.cancelled, d.refundedCents);
    const setPaid = db.prepare('INSERT OR REPLACE INTO daily_sales_orders (order_id, total_cents) VALUES (?, ?)');
    for (const [orderId, amount] of paid) setPaid.run(orderId, amount);
  },
});
