// The `streams` projection (bench/projections/streams.mjs) with its read model in PostgreSQL: the
// same upsert per event, written the obvious way for node-postgres. The target comes from
// es.config.json (projectionOptions.streams_pg.target), set by bench/targets.js.
export default {
  name: 'streams_pg',
  version: 1,
  async setup(db) {
    await db.query(`CREATE TABLE IF NOT EXISTS bench_streams (
      stream_id text PRIMARY KEY, events integer NOT NULL, last_type text NOT NULL,
      last_position bigint NOT NULL, last_at text NOT NULL)`);
  },
  async reset(db) {
    await db.query('DELETE FROM bench_streams');
  },
  handlers: {
    async '*'(event, db) {
      await db.query(
        `INSERT INTO bench_streams (stream_id, events, last_type, last_position, last_at) VALUES ($1, 1, $2, $3, $4)
         ON CONFLICT (stream_id) DO UPDATE SET events = bench_streams.events + 1, last_type = excluded.last_type,
           last_position = excluded.last_position, last_at = excluded.last_at`,
        [event.streamId, event.type, event.position, event.data.at],
      );
    },
  },
};
