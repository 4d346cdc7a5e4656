import { customers } from './_sql.mjs';

/** Orders, failed payments and money spent per customer: three event types. */
export default {
  name: 'customers',
  version: 1,
  setup(db) {
    db.exec(customers.table);
  },
  reset(db) {
    db.exec(customers.reset);
  },
  handlers: {
    OrderPlaced(event, db) {
      db.prepare(customers.upsert).run(event.data.customerId, 1, 0, 0, event.data.at);
    },
    PaymentFailed(event, db) {
      db.prepare(customers.upsert).run(event.data.customerId, 0, 1, 0, event.data.at);
    },
    PaymentCaptured(event, db) {
      db.prepare(customers.upsert).run(event.data.customerId, 0, 0, event.data.amountCents, event.data.at);
    },
  },
};
