/** The `streams` benchmark projection on PostgreSQL: one upsert per event, awaited. */
export const UPSERT = `INSERT INTO bench_streams (stream_id, events, last_type, last_position, last_at) VALUES ($1, 1, $2, $3, $4)
  ON CONFLICT (stream_id) DO UPDATE SET events = bench_streams.events + 1, last_type = excluded.last_type,
    last_position = excluded.last_position, last_at = excluded.last_at`;
export const TABLE = `CREATE TABLE IF NOT EXISTS bench_streams (
  stream_id text PRIMARY KEY, events integer NOT NULL, last_type text NOT NULL,
  last_position bigint NOT NULL, last_at text NOT NULL)`;

export default {
  name: 'streams',
  version: 1,
  async setup(db) {
    await db.query(TABLE);
  },
  async reset(db) {
    await db.query('DELETE FROM bench_streams');
  },
  handlers: {
    async '*'(event, db) {
      await db.query(UPSERT, [event.streamId, event.type, event.position, event.data.at]);
    },
  },
};
