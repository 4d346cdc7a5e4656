// The floor for a PostgreSQL read model fed from a SQLite log: a hand-written loop that reads the log
// with better-sqlite3 and runs the streams upsert in PostgreSQL, one transaction per batch, with no
// handled ids and no checkpoint (so it is not safe to stop: the least work a correct tool can do).
// Usage: node bench/targets/pg-floor.mjs <log.db> <postgres url> <schema> [batchSize]; prints one JSON line.
import Sqlite from 'better-sqlite3';
import pg from 'pg';

const [path, url, schema, batchArg = '1000'] = process.argv.slice(2);
const batchSize = Number(batchArg);
const started = performance.now();
const db = new Sqlite(path, { readonly: true });
const read = db.prepare('SELECT position, stream_id, type, data FROM events WHERE position > ? AND system = 0 ORDER BY position LIMIT ?');
const client = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
await client.connect();
await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
await client.query(`CREATE TABLE IF NOT EXISTS floor_streams (
  stream_id text PRIMARY KEY, events integer NOT NULL, last_type text NOT NULL, last_position bigint NOT NULL, last_at text NOT NULL)`);
await client.query('DELETE FROM floor_streams');
let position = 0;
let processed = 0;
for (;;) {
  const rows = read.all(position, batchSize);
  if (rows.length === 0) break;
  await client.query('BEGIN');
  for (const row of rows) {
    const data = JSON.parse(row.data);
    await client.query(
      `INSERT INTO floor_streams (stream_id, events, last_type, last_position, last_at) VALUES ($1, 1, $2, $3, $4)
       ON CONFLICT (stream_id) DO UPDATE SET events = floor_streams.events + 1, last_type = excluded.last_type,
         last_position = excluded.last_position, last_at = excluded.last_at`,
      [row.stream_id, row.type, row.position, data.at],
    );
  }
  await client.query('COMMIT');
  position = rows[rows.length - 1].position;
  processed += rows.length;
}
await client.end();
db.close();
process.stdout.write(`${JSON.stringify({ processed, ms: Math.round(performance.now() - started) })}\n`);
