import { daily } from './_sql.mjs';

/** Events per day and type: every event type. */
export default {
  name: 'daily',
  version: 1,
  setup(db) {
    db.exec(daily.table);
  },
  reset(db) {
    db.exec(daily.reset);
  },
  handlers: {
    '*'(event, db) {
      db.prepare(daily.upsert).run(event.recordedAt.slice(0, 10), event.type);
    },
  },
};
