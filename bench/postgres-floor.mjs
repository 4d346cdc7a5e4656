// The PostgreSQL floor: a hand-written node-postgres loop doing the streams projection's work.
// Reads in commit order below the snapshot horizon (as es must, to skip nothing), runs the same
// upsert per event, and saves the position as a checkpoint row, one transaction per batch.
// Usage: node bench/postgres-floor.mjs <url> <schema> [batchSize]; prints one JSON line.
import pg from 'pg';
import { TABLE, UPSERT } from './postgres/streams.mjs';

const [url, schema, batchArg = '1000'] = process.argv.slice(2);
const batchSize = Number(batchArg);
const started = performance.now();
const client = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
await client.connect();
await client.query(TABLE);
await client.query('CREATE TABLE IF NOT EXISTS floor_checkpoint (name text PRIMARY KEY, tx xid8 NOT NULL, position bigint NOT NULL)');
await client.query('DELETE FROM bench_streams');
await client.query('DELETE FROM floor_checkpoint');
let tx = '0';
let position = 0;
let processed = 0;
for (;;) {
  const { rows } = await client.query(
    `SELECT transaction_id::text AS tx, position, stream_id, type, data::text AS data FROM events
     WHERE NOT system AND (transaction_id, position) > ($1::xid8, $2::bigint)
       AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
     ORDER BY transaction_id, position LIMIT $3`,
    [tx, position, batchSize],
  );
  if (rows.length === 0) break;
  await client.query('BEGIN');
  for (const row of rows) {
    const data = JSON.parse(row.data);
    await client.query(UPSERT, [row.stream_id, row.type, row.position, data.at]);
  }
  const last = rows[rows.length - 1];
  tx = last.tx;
  position = Number(last.position);
  await client.query(
    `INSERT INTO floor_checkpoint (name, tx, position) VALUES ('streams', $1, $2)
     ON CONFLICT (name) DO UPDATE SET tx = excluded.tx, position = excluded.position`,
    [tx, position],
  );
  await client.query('COMMIT');
  processed += rows.length;
}
await client.end();
console.log(JSON.stringify({ processed, ms: Math.round(performance.now() - started) }));
