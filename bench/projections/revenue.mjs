import { revenue } from './_sql.mjs';

/** Captured payments per day and method: one event type. */
export default {
  name: 'revenue',
  version: 1,
  setup(db) {
    db.exec(revenue.table);
  },
  reset(db) {
    db.exec(revenue.reset);
  },
  handlers: {
    PaymentCaptured(event, db) {
      db.prepare(revenue.upsert).run(event.data.at.slice(0, 10), event.data.method, event.data.amountCents);
    },
  },
};
