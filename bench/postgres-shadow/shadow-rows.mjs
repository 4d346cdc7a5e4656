// One read-model row per event (the size of the read model is the size of the log), with a
// secondary index: what `es project promote` moves into the store's schema (bench/shadow.js).
// Set-based: one multi-row insert (unnest) per batch.
const TABLE = `CREATE TABLE IF NOT EXISTS shadow_rows (
  pos bigint PRIMARY KEY, stream_id text NOT NULL, type text NOT NULL, at text NOT NULL)`;
const INDEX = 'CREATE INDEX IF NOT EXISTS shadow_rows_stream ON shadow_rows (stream_id)';

export default {
  name: 'shadow-rows',
  version: 1,
  tables: ['shadow_rows'],
  async setup(db) {
    await db.query(TABLE);
    await db.query(INDEX);
  },
  async reset(db) {
    await db.query('DELETE FROM shadow_rows');
  },
  async batch(events, db) {
    await db.query('INSERT INTO shadow_rows (pos, stream_id, type, at) SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[])', [
      events.map((e) => e.position),
      events.map((e) => e.streamId),
      events.map((e) => e.type),
      events.map((e) => e.data.at ?? e.recordedAt),
    ]);
  },
};
