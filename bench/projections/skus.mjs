import { skus } from './_sql.mjs';

/** Quantity in carts per SKU: two event types. */
export default {
  name: 'skus',
  version: 1,
  setup(db) {
    db.exec(skus.table);
  },
  reset(db) {
    db.exec(skus.reset);
  },
  handlers: {
    ItemAdded(event, db) {
      db.prepare(skus.upsert).run(event.data.sku, event.data.qty, 1);
    },
    ItemRemoved(event, db) {
      db.prepare(skus.upsert).run(event.data.sku, -event.data.qty, -1);
    },
  },
};
