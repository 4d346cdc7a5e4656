// The `streams` projection with its read model in a SQLite file of its own (a target), the same
// SQL as in the log's database (bench/projections/_sql.mjs).
import { streams } from '../projections/_sql.mjs';

export default {
  name: 'streams_file',
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
