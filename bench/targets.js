// `npm run bench -- --only targets`: a projection whose read model is in another database against the
// same projection with its read model in the log's own database, side by side in one run
// (interleaved, median of --runs). The log is SQLite (bench/lib/generate.js); the projection is
// `streams` (one upsert per event): in the log's file, in PostgreSQL (a target: its own
// transaction per batch with the batch's handled ids, then the checkpoint in the log), and in a
// SQLite file of its own (a target too). Never part of `npm test`.
// PostgreSQL: --url, else ES_BENCH_PG_URL or ES_TEST_PG_URL, else postgres://postgres@127.0.0.1:5432/test.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { cachedStore } from './lib/generate.js';
import { runOk } from './lib/proc.js';
import { median } from './lib/stats.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ES = join(ROOT, 'bin/es.js');
const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const QUICK = args.includes('--quick');
if (args.includes('--help')) {
  process.stdout.write(`usage: node bench/targets.js [--events <n>] [--runs <n>] [--url <postgres url>] [--quick] [--out <file>]
  defaults: 50000 events, 3 runs; --quick: 20000 events, 1 run
  report: bench/reports/targets.md (with --quick bench/.data/targets.quick.md), JSON on stdout\n`);
  process.exit(0);
}
const EVENTS = Number(flag('--events', QUICK ? '20000' : '50000'));
const RUNS = Number(flag('--runs', QUICK ? '1' : '3'));
const OUT = flag('--out', QUICK ? 'bench/.data/targets.quick.md' : 'bench/reports/targets.md');
const PG_URL = flag('--url', process.env.ES_BENCH_PG_URL ?? process.env.ES_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
const SCHEMA = 'es_bench_target';
const log = (line) => process.stderr.write(`${line}\n`);

const loadAtStart = loadavg()[0];
const work = mkdtempSync(join(tmpdir(), 'es-bench-targets-'));
const admin = new pg.Client({ connectionString: PG_URL });
try {
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  const store = await cachedStore(join(ROOT, 'bench/.data'), EVENTS, log);
  const db = join(work, 'log.db');
  copyFileSync(store.path, db);
  const projections = join(work, 'projections');
  mkdirSync(projections);
  for (const file of ['streams.mjs', 'streams-pg.mjs', 'streams-file.mjs']) {
    copyFileSync(join(ROOT, 'bench/targets', file), join(projections, file));
  }
  // They import '../projections/_sql.mjs': the folder is named projections, so that is its own _sql.mjs.
  copyFileSync(join(ROOT, 'bench/projections/_sql.mjs'), join(projections, '_sql.mjs'));
  const target = new URL(PG_URL);
  target.searchParams.set('schema', SCHEMA);
  writeFileSync(
    join(work, 'es.config.json'),
    JSON.stringify({ projectionOptions: { streams_pg: { target: target.toString() }, streams_file: { target: `sqlite:${join(work, 'read-model.db')}` } } }),
  );
  const variants = [
    { name: 'streams', what: "read model in the log's own SQLite database (one transaction: writes + checkpoint)" },
    { name: 'streams_pg', what: 'read model in PostgreSQL (target: its transaction with es_handled, then the checkpoint)' },
    { name: 'streams_file', what: 'read model in another SQLite file (target, same SQL as in the log)' },
  ];
  variants.push({ name: 'floor', what: 'hand-written loop: the same upserts in PostgreSQL, no handled ids, no checkpoint (bench/targets/pg-floor.mjs)' });
  const times = Object.fromEntries(variants.map((v) => [v.name, []]));
  const FLOOR = join(ROOT, 'bench/targets/pg-floor.mjs');
  for (let run = 1; run <= RUNS; run++) {
    for (const v of variants) {
      const argv = v.name === 'floor' ? [FLOOR, db, PG_URL, SCHEMA] : [ES, 'project', 'rebuild', v.name, '--db', db, '--projections', projections];
      const r = await runOk(process.execPath, argv, { cwd: work, measureRss: false });
      times[v.name].push(r.wallMs);
      log(`run ${run}: ${v.name} rebuilt ${EVENTS.toLocaleString('en-US')} events in ${(r.wallMs / 1000).toFixed(2)} s`);
    }
  }
  const { rows } = await admin.query(`SELECT sum(events)::int AS n FROM ${SCHEMA}.bench_streams`);
  if (rows[0]?.n !== EVENTS) throw new Error(`the PostgreSQL read model counts ${rows[0]?.n} events, not ${EVENTS}`);
  const rate = (name) => EVENTS / (median(times[name]) / 1000);
  const local = rate('streams');
  const results = variants.map((v) => ({
    ...v,
    medianMs: Math.round(median(times[v.name])),
    eventsPerSecond: Math.round(rate(v.name)),
    ofLocal: +(rate(v.name) / local).toFixed(3),
  }));
  const out = { events: EVENTS, runs: RUNS, at: new Date().toISOString(), results };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  const md = [
    '# Read models in another database',
    '',
    `\`node bench/targets.js\` (\`npm run bench -- --only targets\`), ${out.at}: a rebuild of the \`streams\` projection (one upsert per event, every event) over a SQLite log of ${EVENTS.toLocaleString('en-US')} events, wall time of \`es project rebuild\` including Node's start, median of ${RUNS} interleaved runs, batch size 1000.`,
    '',
    `Load average (1 min) ${loadAtStart.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end, on ${(await import('node:os')).cpus().length} CPUs shared with other sessions: wall times move a lot between runs; compare the rows, which ran interleaved.`,
    '',
    '| read model | median | events/s | throughput vs own database |',
    '| --- | ---: | ---: | ---: |',
    ...results.map((r) => `| ${r.what} | ${(r.medianMs / 1000).toFixed(2)} s | ${r.eventsPerSecond.toLocaleString('en-US')} | ${r.ofLocal.toFixed(2)}x |`),
    '',
    `es with its read model in PostgreSQL runs at ${(rate('streams_pg') / rate('floor')).toFixed(2)}x the hand-written loop's throughput. ` +
      'Both are bound by one round trip to PostgreSQL per event (the projection awaits each upsert); the handled ids add two ' +
      'statements per batch of 1,000 (one lookup, one INSERT … ON CONFLICT DO NOTHING of the whole batch) and the checkpoint append in the log. ' +
      'A set-based projection (`batch`) writing a batch in one statement removes most of the round trips.',
    '',
  ].join('\n');
  mkdirSync(dirname(resolve(ROOT, OUT)), { recursive: true });
  writeFileSync(resolve(ROOT, OUT), md);
  log(`wrote ${OUT}`);
} finally {
  await admin.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`).catch(() => {});
  await admin.end().catch(() => {});
  rmSync(work, { recursive: true, force: true });
}
