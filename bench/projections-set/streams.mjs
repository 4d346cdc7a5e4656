/**
 * The `streams` benchmark read model on SQLite, set-based: the batch's events summed per stream in
 * memory, then one prepared upsert per stream (not per event). The same rows as bench/projections/streams.mjs.
 */
const TABLE = `CREATE TABLE IF NOT EXISTS bench_streams_set (
  stream_id TEXT PRIMARY KEY, events INTEGER NOT NULL, last_type TEXT NOT NULL,
  last_position INTEGER NOT NULL, last_at TEXT NOT NULL)`;
const UPSERT = `INSERT INTO bench_streams_set (stream_id, events, last_type, last_position, last_at) VALUES (?, ?, ?, ?, ?)
  ON CONFLICT (stream_id) DO UPDATE SET events = events + excluded.events, last_type = excluded.last_type,
    last_position = excluded.last_position, last_at = excluded.last_at`;

export default {
  name: 'streams-set',
  version: 1,
  setup(db) {
    db.exec(TABLE);
  },
  reset(db) {
    db.exec('DELETE FROM bench_streams_set');
  },
  batch(events, db) {
    const byStream = new Map();
    for (const e of events) {
      const row = byStream.get(e.streamId);
      if (row) {
        row.events += 1;
        row.type = e.type;
        row.position = e.position;
        row.at = e.data.at;
      } else {
        byStream.set(e.streamId, { events: 1, type: e.type, position: e.position, at: e.data.at });
      }
    }
    const upsert = db.prepare(UPSERT);
    for (const [id, r] of byStream) upsert.run(id, r.events, r.type, r.position, r.at);
  },
};
