import { streams } from '../projections/_sql.mjs';

/** One row per stream: how many events, and the last one. Every event type: one upsert per event. */
export default {
  name: 'streams',
  version: 1,
  setup(db) {
    db.exec(streams.table);
  },
  reset(db) {
    db.exec(streams.reset);
  },
  handlers: {
    '*'(event, db) {
      db.prepare(streams.upsert).run(event.streamId, event.type, event.position, event.data.at);
    },
  },
};
