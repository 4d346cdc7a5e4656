// One read-model row per event (the size of the read model is the size of the log), with a
// secondary index: what `es project promote` copies into the store file (bench/shadow.js).
// Set-based: one prepared insert per event, once per batch.
const TABLE = `CREATE TABLE IF NOT EXISTS shadow_rows (
  pos INTEGER PRIMARY KEY, stream_id TEXT NOT NULL, type TEXT NOT NULL, at TEXT NOT NULL)`;
const INDEX = 'CREATE INDEX IF NOT EXISTS shadow_rows_stream ON shadow_rows (stream_id)';

export default {
  name: 'shadow-rows',
  version: 1,
  tables: ['shadow_rows'],
  setup(db) {
    db.exec(TABLE);
    db.exec(INDEX);
  },
  reset(db) {
    db.exec('DELETE FROM shadow_rows');
  },
  batch(events, db) {
    const insert = db.prepare('INSERT INTO shadow_rows (pos, stream_id, type, at) VALUES (?, ?, ?, ?)');
    for (const e of events) insert.run(e.position, e.streamId, e.type, e.data.at ?? e.recordedAt);
  },
};
