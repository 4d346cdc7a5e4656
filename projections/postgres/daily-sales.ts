import type { ClientBase } from 'pg';
import { defineProjection } from 'catchup-projections';

interface Day {
  orders: number;
  revenueCents: number;
  cancelled: number;
  refundedCents: number;
}

/**
 * Aggregate report (PostgreSQL): orders, revenue and cancellations per day. Set-based: three
 * statements per batch (a lookup, the days, the orders paid), however many events it holds.
 */
export default defineProjection<ClientBase>({
  name: 'daily-sales',
  version: 1,
  events: ['PaymentCaptured', 'OrderCancelled'],
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
  async batch(events, db) {
    // What earlier batches paid for the orders this one cancels, in one query.
    const cancelled = events.filter((e) => e.type === 'OrderCancelled').map((e) => e.data.orderId);
    const paidBefore = new Map<string, number>();
    if (cancelled.length > 0) {
      const { rows } = await db.query('SELECT order_id, total_cents::float8 AS total FROM daily_sales_orders WHERE order_id = ANY($1::text[])', [cancelled]);
      for (const row of rows as { order_id: string; total: number }[]) paidBefore.set(row.order_id, row.total);
    }
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
    const list = [...days];
    await db.query(
      `INSERT INTO daily_sales (day, orders, revenue_cents, cancelled, refunded_cents)
       SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[], $4::int[], $5::bigint[])
       ON CONFLICT (day) DO UPDATE SET orders = daily_sales.orders + excluded.orders,
         revenue_cents = daily_sales.revenue_cents + excluded.revenue_cents, cancelled = daily_sales.cancelled + excluded.cancelled,
         refunded_cents = daily_sales.refunded_cents + excluded.refunded_cents`,
      [
        list.map(([k]) => k),
        list.map(([, d]) => d.orders),
        list.map(([, d]) => d.revenueCents),
        list.map(([, d]) => d.cancelled),
        list.map(([, d]) => d.refundedCents),
      ],
    );
    if (paid.size > 0) {
      await db.query(
        `INSERT INTO daily_sales_orders (order_id, total_cents) SELECT * FROM unnest($1::text[], $2::bigint[])
         ON CONFLICT (order_id) DO UPDATE SET total_cents = excluded.total_cents`,
        [[...paid.keys()], [...paid.values()]],
      );
    }
  },
});
