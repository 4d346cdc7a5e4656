/**
 * The `streams` benchmark read model on PostgreSQL, set-based: the batch's events summed per stream
 * in memory, then one multi-row upsert (unnest) per batch. The same rows as bench/postgres/streams.mjs.
 */
export const TABLE = `CREATE TABLE IF NOT EXISTS bench_streams_set (
  stream_id text PRIMARY KEY, events integer NOT NULL, last_type text NOT NULL,
  last_position bigint NOT NULL, last_at text NOT NULL)`;
export const UPSERT = `INSERT INTO bench_streams_set AS s (stream_id, events, last_type, last_position, last_at)
  SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::bigint[], $5::text[])
  ON CONFLICT (stream_id) DO UPDATE SET events = s.events + excluded.events, last_type = excluded.last_type,
    last_position = excluded.last_position, last_at = excluded.last_at`;

/** One row per stream of the batch: its event count and its last event (batch order). */
export function rowsOf(events) {
  const byStream = new Map();
  for (const e of events) {
    const row = byStream.get(e.streamId);
    if (row) {
      row.events += 1;
      row.type = e.type;
      row.position = e.position;
      row.at = e.at;
    } else {
      byStream.set(e.streamId, { events: 1, type: e.type, position: e.position, at: e.at });
    }
  }
  const ids = [...byStream.keys()];
  const rows = [...byStream.values()];
  return [ids, rows.map((r) => r.events), rows.map((r) => r.type), rows.map((r) => r.position), rows.map((r) => r.at)];
}

export default {
  name: 'streams-set',
  version: 1,
  async setup(db) {
    await db.query(TABLE);
  },
  async reset(db) {
    await db.query('DELETE FROM bench_streams_set');
  },
  async batch(events, db) {
    await db.query(UPSERT, rowsOf(events.map((e) => ({ streamId: e.streamId, type: e.type, position: e.position, at: e.data.at }))));
  },
};
