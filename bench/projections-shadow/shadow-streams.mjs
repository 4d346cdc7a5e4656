// The `streams` benchmark read model (bench/projections/streams.mjs) under a table name of its own,
// declaring its table so that it can be rebuilt beside the live read model (bench/shadow.js).
const TABLE = `CREATE TABLE IF NOT EXISTS shadow_streams (
  stream_id TEXT PRIMARY KEY, events INTEGER NOT NULL, last_type TEXT NOT NULL,
  last_position INTEGER NOT NULL, last_at TEXT NOT NULL)`;
const UPSERT = `INSERT INTO shadow_streams (stream_id, events, last_type, last_position, last_at) VALUES (?, 1, ?, ?, ?)
  ON CONFLICT (stream_id) DO UPDATE SET events = events + 1, last_type = excluded.last_type,
    last_position = excluded.last_position, last_at = excluded.last_at`;

/** One row per stream: how many events, and the last one. Every event type: one upsert per event. */
export default {
  name: 'shadow-streams',
  version: 1,
  tables: ['shadow_streams'],
  setup(db) {
    db.exec(TABLE);
  },
  reset(db) {
    db.exec('DELETE FROM shadow_streams');
  },
  handlers: {
    '*'(event, db) {
      db.prepare(UPSERT).run(event.streamId, event.type, event.position, event.data.at);
    },
  },
};
