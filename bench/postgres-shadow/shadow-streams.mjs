// The `streams` benchmark read model on PostgreSQL, set-based (bench/postgres-set/streams.mjs) under
// a table name of its own, declaring its table so that it can be rebuilt beside the live read model
// (bench/shadow.js). Unqualified names: inside a shadow's transactions they mean the shadow's tables.
import { rowsOf } from '../postgres-set/streams.mjs';

const TABLE = `CREATE TABLE IF NOT EXISTS shadow_streams (
  stream_id text PRIMARY KEY, events integer NOT NULL, last_type text NOT NULL,
  last_position bigint NOT NULL, last_at text NOT NULL)`;
const UPSERT = `INSERT INTO shadow_streams AS s (stream_id, events, last_type, last_position, last_at)
  SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::bigint[], $5::text[])
  ON CONFLICT (stream_id) DO UPDATE SET events = s.events + excluded.events, last_type = excluded.last_type,
    last_position = excluded.last_position, last_at = excluded.last_at`;

export default {
  name: 'shadow-streams',
  version: 1,
  tables: ['shadow_streams'],
  async setup(db) {
    await db.query(TABLE);
  },
  async reset(db) {
    await db.query('DELETE FROM shadow_streams');
  },
  async batch(events, db) {
    await db.query(UPSERT, rowsOf(events.map((e) => ({ streamId: e.streamId, type: e.type, position: e.position, at: e.data.at }))));
  },
};
