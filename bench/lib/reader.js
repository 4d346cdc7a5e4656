// A reader of a live read-model table, as a separate process (bench/shadow.js): point lookups by a
// random key in a tight loop, one at a time, noting when each completes. What a reader sees of a
// promote is the longest time between two consecutive completions.
//
//   node bench/lib/reader.js sqlite <store file> <table> <key column> <max key>
//   node bench/lib/reader.js postgres <url with search_path> <table> <key column> <max key>
//
// It prints `ready` once its first lookups have run, and stops on a line `stop` on stdin (or when
// stdin closes), printing one JSON line: the queries run, the errors (with the first message), the
// time of the first and last completion, and every gap of at least GAP_MS between two consecutive
// completions as [end of the earlier, end of the later] (ms on the shared clock: timeOrigin + now),
// so that the caller can take the longest gap inside any window.
import pg from 'pg';
import Sqlite from 'better-sqlite3';
import { prng } from './prng.js';

const GAP_MS = 1;
const [kind, where, table, column, maxKeyText] = process.argv.slice(2);
const maxKey = Number(maxKeyText);
const now = () => performance.timeOrigin + performance.now();
const rng = prng(99);
const key = () => 1 + rng.int(maxKey);

let stopping = false;
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  if (String(d).includes('stop')) stopping = true;
});
process.stdin.on('end', () => (stopping = true));

const gaps = [];
let queries = 0;
let errors = 0;
let firstError = null;
let first = null;
let last = null;
let found = 0;
const done = (hit) => {
  const t = now();
  if (last !== null && t - last >= GAP_MS) gaps.push([last, t]);
  if (first === null) first = t;
  last = t;
  queries += 1;
  if (hit) found += 1;
};
const failed = (error) => {
  errors += 1;
  firstError ??= String(error?.message ?? error);
};

async function sqlite() {
  const db = new Sqlite(where, { readonly: true, timeout: 30_000 });
  const sql = `SELECT * FROM ${table} WHERE ${column} = ?`;
  let lookup = null;
  let announced = false;
  while (!stopping) {
    // Synchronous queries: the loop yields every few milliseconds so that `stop` can be read.
    const until = performance.now() + 5;
    while (performance.now() < until) {
      try {
        lookup ??= db.prepare(sql);
        done(lookup.get(key()) !== undefined);
      } catch (error) {
        // A statement of a table that was dropped and made again is prepared again.
        lookup = null;
        failed(error);
        done(false);
      }
    }
    if (!announced && queries > 100) {
      announced = true;
      process.stdout.write('ready\n');
    }
    await new Promise((r) => setImmediate(r));
  }
  db.close();
}

async function postgres() {
  const client = new pg.Client({ connectionString: where });
  await client.connect();
  const sql = `SELECT * FROM ${table} WHERE ${column} = $1`;
  let announced = false;
  while (!stopping) {
    try {
      const { rows } = await client.query(sql, [key()]);
      done(rows.length > 0);
    } catch (error) {
      failed(error);
      done(false);
    }
    if (!announced && queries > 100) {
      announced = true;
      process.stdout.write('ready\n');
    }
  }
  await client.end();
}

await (kind === 'sqlite' ? sqlite() : postgres());
process.stdout.write(`${JSON.stringify({ queries, found, errors, firstError, first, last, gaps })}\n`);
