// The set-based PostgreSQL floor: a hand-written node-postgres loop doing the set-based streams
// projection's work (bench/postgres-set/streams.mjs): reads in commit order below the snapshot
// horizon (as es must), one multi-row upsert per batch, the position saved as a checkpoint row,
// one transaction per batch.
// Usage: node bench/postgres-floor-set.mjs <url> <schema> [batchSize]; prints one JSON line.
import pg from 'pg';
import { TABLE, UPSERT, rowsOf } from './postgres-set/streams.mjs';

const [url, schema, batchArg = '1000'] = process.argv.slice(2);
const batchSize = Number(batchArg);
const started = performance.now();
const client = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
await client.connect();
await client.query(TABLE);
await client.query('CREATE TABLE IF NOT EXISTS floor_checkpoint (name text PRIMARY KEY, tx xid8 NOT NULL, position bigint NOT NULL)');
await client.query('DELETE FROM bench_streams_set');
await client.query("DELETE FROM floor_checkpoint WHERE name = 'streams-set'");
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
  const events = rows.map((row) => ({ streamId: row.stream_id, type: row.type, position: Number(row.position), at: JSON.parse(row.data).at }));
  await client.query(UPSERT, rowsOf(events));
  const last = rows[rows.length - 1];
  tx = last.tx;
  position = Number(last.position);
  await client.query(
    `INSERT INTO floor_checkpoint (name, tx, position) VALUES ('streams-set', $1, $2)
     ON CONFLICT (name) DO UPDATE SET tx = excluded.tx, position = excluded.position`,
    [tx, position],
  );
  await client.query('COMMIT');
  processed += rows.length;
}
await client.end();
console.log(JSON.stringify({ processed, ms: Math.round(performance.now() - started) }));
