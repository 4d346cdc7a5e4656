import type { Database } from 'better-sqlite3';
import { defineProjection } from 'catchup-projections';

/** Per-entity summary: one row per order, kept current as payments and shipments happen. */
export default defineProjection<Database>({
  name: 'order-summary',
  version: 1,
  setup(db) {
    db.exec(`CREATE TABLE IF NOT EXISTS order_summary (
      order_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, status TEXT NOT NULL,
      items INTEGER NOT NULL, total_cents INTEGER NOT NULL,
      placed_at TEXT NOT NULL, paid_at TEXT, shipped_at TEXT, delivered_at TEXT, carrier TEXT)`);
  },
  reset(db) {
    db.exec('DELETE FROM order_summary');
  },
  handlers: {
    OrderPlaced(event, db) {
      const { orderId, customerId, items, totalCents, at } = event.data as {
        orderId: string;
        customerId: string;
        items: { quantity: number }[];
        totalCents: number;
        at: string;
      };
      const count = items.reduce((sum, item) => sum + item.quantity, 0);
      // An upsert, so that replay-from can apply this event again.
      db.prepare(
        `INSERT INTO order_summary (order_id, customer_id, status, items, total_cents, placed_at)
                  VALUES (?, ?, 'placed', ?, ?, ?)
                  ON CONFLICT (order_id) DO UPDATE SET customer_id = excluded.customer_id, status = 'placed',
                    items = excluded.items, total_cents = excluded.total_cents, placed_at = excluded.placed_at`,
      ).run(orderId, customerId, count, totalCents, at);
    },
    PaymentCaptured(event, db) {
      db.prepare(`UPDATE order_summary SET status = 'paid', paid_at = ? WHERE order_id = ?`).run(event.data.at, event.data.orderId);
    },
    OrderShipped(event, db) {
      db.prepare(`UPDATE order_summary SET status = 'shipped', shipped_at = ?, carrier = ? WHERE order_id = ?`).run(
        event.data.at,
        event.data.carrier,
        event.data.orderId,
      );
    },
    OrderDelivered(event, db) {
      db.prepare(`UPDATE order_summary SET status = 'delivered', delivered_at = ? WHERE order_id = ?`).run(event.data.at, event.data.orderId);
    },
    OrderCancelled(event, db) {
      db.prepare(`UPDATE order_summary SET status = 'cancelled' WHERE order_id = ?`).run(event.data.orderId);
    },
  },
});
