// `npm run bench`: es against a hand-written floor, against itself at scale, and against a peer.
// Never part of `npm test`. Flags: see usage() below; `--quick` for a fast, small run.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureAppends } from './lib/append.js';
import { cachedStore } from './lib/generate.js';
import { measureFollow } from './lib/follow.js';
import { measureImport } from './lib/import.js';
import { machine } from './lib/machine.js';
import { rssMethod, run, runOk } from './lib/proc.js';
import { markdown, svgChart, textTable } from './lib/report.js';
import { max, median } from './lib/stats.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ES = join(ROOT, 'bin/es.js');
const FLOOR = join(ROOT, 'bench/floor.js');
const PROJECTIONS = join(ROOT, 'bench/projections');
const PEERS = join(ROOT, 'bench/peers');
const FIVE = ['streams', 'customers', 'skus', 'daily', 'revenue'];

function usage() {
  return `usage: node bench/run.js [options]
  --events <n>          events in the main log (default 1000000)
  --big <n>             events in the big log for memory and status (default 5000000; 0 skips)
  --runs <n>            repetitions of the floor / es rebuild pair, median taken (default 5)
  --five-runs <n>       repetitions of the five-projection measurements (default 3)
  --big-runs <n>        repetitions at the big size (default 1)
  --batch <n>           batch size for es and the floor (default 1000, es's default)
  --peer-events <n>     events for the Emmett peer (default 100000; 0 skips)
  --follow-appends <n>  appends for the --follow latency probe (default 200; 0 skips)
  --follow-interval <ms> mean spacing of those appends (default 20)
  --status-runs <n>     repetitions of \`es project status\` (default 10)
  --import-runs <n>     repetitions of \`es import\` of --events and --big events as NDJSON, for its
                        peak memory (default 1; 0 skips)
  --appends <n>         single library appends per run, durable and relaxed side by side (default 2000; 0 skips)
  --append-runs <n>     repetitions of that pair (default 3)
  --together-args "<a>" extra arguments for the five-projection rebuild (e.g. a group-mode flag)
  --quick               small sizes (50k / 200k, 1 run) written under bench/.data/ unless --out is given
  --out <file>          report (default BENCHMARKS.md; with --quick bench/.data/BENCHMARKS.quick.md)
  --svg <file>          chart (default bench/throughput.svg; with --quick bench/.data/throughput.quick.svg)
  --data <dir>          cache of generated stores (default bench/.data)
  --report-only         measure nothing: rewrite the report and chart from <data>/last-results.json
                        (last-results.quick.json with --quick)
                        (e.g. after editing bench/notes.md, the analysis the report includes)`;
}

function parseArgs(argv) {
  const quick = argv.includes('--quick');
  const o = {
    events: quick ? 50_000 : 1_000_000,
    big: quick ? 200_000 : 5_000_000,
    runs: quick ? 1 : 5,
    fiveRuns: quick ? 1 : 3,
    bigRuns: 1,
    batch: 1000,
    peerEvents: quick ? 10_000 : 100_000,
    followAppends: quick ? 50 : 200,
    followInterval: 20,
    statusRuns: quick ? 3 : 10,
    importRuns: 1,
    appends: quick ? 200 : 2000,
    appendRuns: quick ? 1 : 3,
    togetherArgs: [],
    quick,
    out: quick ? 'bench/.data/BENCHMARKS.quick.md' : 'BENCHMARKS.md',
    svg: quick ? 'bench/.data/throughput.quick.svg' : 'bench/throughput.svg',
    data: 'bench/.data',
  };
  const numbers = {
    '--events': 'events',
    '--big': 'big',
    '--runs': 'runs',
    '--five-runs': 'fiveRuns',
    '--big-runs': 'bigRuns',
    '--batch': 'batch',
    '--peer-events': 'peerEvents',
    '--follow-appends': 'followAppends',
    '--follow-interval': 'followInterval',
    '--status-runs': 'statusRuns',
    '--import-runs': 'importRuns',
    '--appends': 'appends',
    '--append-runs': 'appendRuns',
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--quick') continue;
    if (flag === '--report-only') {
      o.reportOnly = true;
      continue;
    }
    if (flag === '--help' || flag === '-h') {
      console.log(usage());
      process.exit(0);
    }
    const value = argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value\n${usage()}`);
    if (numbers[flag]) {
      const n = Number(value.replace(/_/g, ''));
      if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${flag}: "${value}" is not a whole number`);
      o[numbers[flag]] = n;
    } else if (flag === '--together-args') o.togetherArgs = value.split(/\s+/).filter(Boolean);
    else if (flag === '--out') o.out = value;
    else if (flag === '--svg') o.svg = value;
    else if (flag === '--data') o.data = value;
    else throw new Error(`unknown option ${flag}\n${usage()}`);
  }
  if (o.events < 1 || o.runs < 1 || o.fiveRuns < 1) throw new Error('--events, --runs and --five-runs must be at least 1');
  return o;
}

const log = (text) => process.stderr.write(`${text}\n`);
const fmt = (n) => Math.round(n).toLocaleString('en-US');
const perSec = (events, ms) => events / (ms / 1000);

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const data = resolve(ROOT, o.data);
  mkdirSync(data, { recursive: true });
  if (o.reportOnly) {
    const saved = JSON.parse(readFileSync(join(data, resultsFile(o)), 'utf8'));
    // The paths asked for now win over the saved ones.
    writeReport(saved, { ...saved.options, out: o.out, svg: o.svg });
    return;
  }
  if (!existsSync(join(ROOT, 'dist/index.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm run bench does)');
  const started = performance.now();
  const m = machine(ROOT);
  log(`es bench: ${m.cpu}, ${m.nproc} CPUs, node ${m.node}, SQLite ${m.sqlite}; peak memory by ${rssMethod}`);

  const node = process.execPath;
  const es = (db, args, options) => run(node, [ES, '--db', db, '--projections', PROJECTIONS, ...args], { env: { NO_COLOR: '1' }, ...options });
  const esOk = async (db, args) => {
    const r = await es(db, args);
    if (r.code !== 0) throw new Error(`es ${args.join(' ')} exited ${r.code}:\n${r.stderr.slice(-2000)}`);
    return r;
  };
  /** `es project rebuild <names>` as a whole process. */
  const rebuild = async (db, names, extra = []) => {
    const r = await esOk(db, ['project', 'rebuild', ...names, '--batch-size', String(o.batch), '--json', ...extra]);
    const out = JSON.parse(r.stdout);
    return {
      wallMs: r.wallMs,
      cpuMs: r.cpuMs,
      maxRssKb: r.maxRssKb,
      engineMs: out.projections.reduce((s, p) => s + p.durationMs, 0),
      processed: out.projections.reduce((s, p) => s + p.processed, 0),
    };
  };
  const floor = async (db, set) => {
    const r = await runOk(node, [FLOOR, db, set, String(o.batch)], { cwd: ROOT });
    const out = JSON.parse(r.stdout);
    return { wallMs: r.wallMs, cpuMs: r.cpuMs, maxRssKb: r.maxRssKb, loopMs: out.loopMs, events: out.events };
  };

  const results = { options: o, machine: m, rssMethod, command: commandLine(), git: gitState(), loadBefore: loadavg() };

  // ── Stores ───────────────────────────────────────────────────────────────────────────────────
  const log1 = await cachedStore(data, o.events, log);
  results.generation = { events: o.events, ms: log1.generatedMs, cached: log1.cached };
  log(`warming up on ${o.events.toLocaleString('en-US')} events (not counted)`);
  await floor(log1.path, 'streams');
  await rebuild(log1.path, ['streams']);

  // ── 1 + 2: floor against es rebuild, one projection, interleaved ──────────────────────────────
  const single = { floor: [], es: [] };
  for (let r = 0; r < o.runs; r++) {
    const order = r % 2 === 0 ? ['floor', 'es'] : ['es', 'floor'];
    for (const which of order) {
      if (which === 'floor') single.floor.push(await floor(log1.path, 'streams'));
      else single.es.push(await rebuild(log1.path, ['streams']));
    }
    log(`  run ${r + 1}/${o.runs}: floor ${fmt(single.floor[r].wallMs)} ms, es rebuild ${fmt(single.es[r].wallMs)} ms`);
  }
  results.single = summarizeSingle(single, o.events);
  log(
    `one projection: floor ${fmt(results.single.floor.eventsPerSec)}/s, es ${fmt(results.single.es.eventsPerSec)}/s (${pct(results.single.ratio)} of the floor)`,
  );

  // ── 3: five projections together against one by one ───────────────────────────────────────────
  const five = { together: [], oneByOne: [], floor: [] };
  for (let r = 0; r < o.fiveRuns; r++) {
    const steps = [
      async () => five.together.push(await rebuild(log1.path, FIVE, o.togetherArgs)),
      async () => {
        const parts = [];
        for (const name of FIVE) parts.push(await rebuild(log1.path, [name]));
        five.oneByOne.push({
          wallMs: parts.reduce((s, p) => s + p.wallMs, 0),
          cpuMs: parts.reduce((s, p) => s + p.cpuMs, 0),
          engineMs: parts.reduce((s, p) => s + p.engineMs, 0),
          maxRssKb: max(parts.map((p) => p.maxRssKb)),
          parts: parts.map((p, i) => ({ name: FIVE[i], wallMs: p.wallMs })),
        });
      },
      async () => five.floor.push(await floor(log1.path, 'five')),
    ];
    for (let k = 0; k < steps.length; k++) await steps[(k + r) % steps.length]();
    log(
      `  run ${r + 1}/${o.fiveRuns}: five together ${fmt(five.together[r].wallMs)} ms, one by one ${fmt(five.oneByOne[r].wallMs)} ms, floor (one pass) ${fmt(five.floor[r].wallMs)} ms`,
    );
  }
  results.five = summarizeFive(five, results.single);

  // ── 4 + 5: the big log: memory, throughput at scale, status ───────────────────────────────────
  if (o.big > 0) {
    const big = await cachedStore(data, o.big, log);
    results.bigGeneration = { events: o.big, ms: big.generatedMs, cached: big.cached };
    log(`big log: ${o.big.toLocaleString('en-US')} events`);
    const bigRuns = { floor: [], es: [] };
    for (let r = 0; r < o.bigRuns; r++) {
      bigRuns.es.push(await rebuild(big.path, ['streams']));
      bigRuns.floor.push(await floor(big.path, 'streams'));
      log(
        `  run ${r + 1}/${o.bigRuns}: es rebuild ${fmt(bigRuns.es[r].wallMs)} ms (${fmt(bigRuns.es[r].maxRssKb / 1024)} MB), floor ${fmt(bigRuns.floor[r].wallMs)} ms`,
      );
    }
    results.big = summarizeSingle(bigRuns, o.big);
    // The other four caught up too, so status has five caught-up projections to look at.
    const rest = await rebuild(big.path, FIVE.slice(1));
    results.bigRest = { wallMs: rest.wallMs, maxRssKb: rest.maxRssKb };
    log(`  the other four rebuilt in ${fmt(rest.wallMs)} ms`);
    results.status = await measureStatus(big.path, o, es, data);
    log(
      `  status: ${results.status.all.medianMs.toFixed(0)} ms caught up, ${results.status.pending.medianMs.toFixed(0)} ms with ${fmt(results.status.pendingLag)} events pending per projection (process); node alone ${results.status.nodeAlone.medianMs.toFixed(0)} ms`,
    );
  }
  results.memory = summarizeMemory(results);

  // ── 5b: import streams its input: peak memory at both sizes ──────────────────────────────────
  if (o.importRuns > 0) {
    const sizes = o.big > 0 ? [o.events, o.big] : [o.events];
    log(`import: ${sizes.map((n) => n.toLocaleString('en-US')).join(' and ')} events as NDJSON`);
    results.import = await measureImport({ data, sizes, runs: o.importRuns, es, log });
  }
  // ── read --json: peak memory at both sizes (it must not grow with the log) ─────────────────────
  results.read = { small: await measureRead(log1.path, o.events, es) };
  if (o.big > 0) results.read.big = await measureRead((await cachedStore(data, o.big, log)).path, o.big, es);
  if (results.read.big) results.read.growth = results.read.big.maxRssKb / results.read.small.maxRssKb;

  // ── 6: --follow latency ───────────────────────────────────────────────────────────────────────
  if (o.followAppends > 0) {
    const followDb = join(data, 'follow.db');
    for (const f of [followDb, `${followDb}-wal`, `${followDb}-shm`]) rmSync(f, { force: true });
    copyFileSync(log1.path, followDb);
    log(`follow: ${o.followAppends} appends about ${o.followInterval} ms apart on a copy of the ${o.events.toLocaleString('en-US')}-event log`);
    try {
      results.follow = await measureFollow({
        root: ROOT,
        dbPath: followDb,
        appends: o.followAppends,
        intervalMs: o.followInterval,
        log,
      });
      log(`  p50 ${results.follow.p50.toFixed(1)} ms, p99 ${results.follow.p99.toFixed(1)} ms`);
    } finally {
      for (const f of [followDb, `${followDb}-wal`, `${followDb}-shm`]) rmSync(f, { force: true });
    }
  }

  // ── 6b: append durability, durable against relaxed ────────────────────────────────────────────
  if (o.appends > 0) {
    log(`appends: ${o.appends} library appends, synchronous FULL (es) against NORMAL, ${o.appendRuns} run(s)`);
    results.appends = await measureAppends({
      root: ROOT,
      data,
      singles: o.appends,
      batches: o.quick ? 10 : 50,
      batchSize: 1000,
      runs: Math.max(1, o.appendRuns),
      log,
    });
    const a = results.appends;
    log(
      `  durable ${fmt(a.durable.appendsPerSec)}/s (p50 ${a.durable.p50Ms.toFixed(2)} ms), relaxed ${fmt(a.relaxed.appendsPerSec)}/s (p50 ${a.relaxed.p50Ms.toFixed(2)} ms)`,
    );
  }

  // ── 7: the Emmett peer ────────────────────────────────────────────────────────────────────────
  if (o.peerEvents > 0) results.peer = await measurePeer(o, data, node, rebuild, floor);

  results.totalMs = performance.now() - started;
  results.loadAfter = loadavg();
  writeFileSync(join(data, resultsFile(o)), `${JSON.stringify(results, null, 2)}\n`);
  writeReport(results, o);
}

/** Quick runs keep their own results, so `--report-only` never puts quick figures into BENCHMARKS.md. */
const resultsFile = (o) => (o.quick ? 'last-results.quick.json' : 'last-results.json');

function writeReport(results, o) {
  process.stdout.write(`\n${textTable(results)}\n`);
  const outPath = resolve(ROOT, o.out);
  const svgPath = resolve(ROOT, o.svg);
  mkdirSync(dirname(outPath), { recursive: true });
  mkdirSync(dirname(svgPath), { recursive: true });
  writeFileSync(svgPath, svgChart(results));
  const notesPath = join(ROOT, 'bench/notes.md');
  const notes = existsSync(notesPath) ? readFileSync(notesPath, 'utf8') : '';
  writeFileSync(outPath, markdown(results, { svg: relative(dirname(outPath), svgPath), notes }));
  log(`wrote ${relative(ROOT, outPath)} and ${relative(ROOT, svgPath)} (the run took ${(results.totalMs / 60000).toFixed(1)} min)`);
}

/** The code measured: the commit, and whether the work tree differed from it. */
function gitState() {
  try {
    const git = (...args) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = git('status', '--porcelain', '--', 'src', 'bin', 'package.json').split('\n').filter(Boolean).length;
    return { commit: git('rev-parse', '--short', 'HEAD'), dirtyFiles: dirty };
  } catch {
    return null;
  }
}

function commandLine() {
  const args = process.argv.slice(2);
  return process.env.npm_lifecycle_event === 'bench'
    ? `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`
    : `node bench/run.js ${args.join(' ')}`.trim();
}

const pct = (ratio) => `${(ratio * 100).toFixed(1)} %`;

function summarizeSingle({ floor, es }, events) {
  const floorCpuMs = median(floor.map((r) => r.cpuMs));
  const esCpuMs = median(es.map((r) => r.cpuMs));
  const floorMs = median(floor.map((r) => r.wallMs));
  const esMs = median(es.map((r) => r.wallMs));
  const floorLoopMs = median(floor.map((r) => r.loopMs));
  const esEngineMs = median(es.map((r) => r.engineMs));
  return {
    events,
    floor: { wallMs: floorMs, cpuMs: floorCpuMs, loopMs: floorLoopMs, eventsPerSec: perSec(events, floorMs), runs: floor.map((r) => r.wallMs) },
    es: {
      wallMs: esMs,
      cpuMs: esCpuMs,
      engineMs: esEngineMs,
      eventsPerSec: perSec(events, esMs),
      engineEventsPerSec: perSec(events, esEngineMs),
      maxRssKb: es.map((r) => r.maxRssKb),
      runs: es.map((r) => r.wallMs),
    },
    ratio: floorMs / esMs,
    cpuRatio: floorCpuMs / esCpuMs,
    engineRatio: floorLoopMs / esEngineMs,
  };
}

function summarizeFive({ together, oneByOne, floor }, single) {
  const togetherMs = median(together.map((r) => r.wallMs));
  return {
    together: {
      wallMs: togetherMs,
      cpuMs: median(together.map((r) => r.cpuMs)),
      engineMs: median(together.map((r) => r.engineMs)),
      maxRssKb: max(together.map((r) => r.maxRssKb)),
      runs: together.map((r) => r.wallMs),
    },
    oneByOne: {
      wallMs: median(oneByOne.map((r) => r.wallMs)),
      cpuMs: median(oneByOne.map((r) => r.cpuMs)),
      engineMs: median(oneByOne.map((r) => r.engineMs)),
      runs: oneByOne.map((r) => r.wallMs),
      parts: Object.fromEntries(oneByOne[0].parts.map((p) => [p.name, median(oneByOne.map((r) => r.parts.find((q) => q.name === p.name).wallMs))])),
    },
    floor: { wallMs: median(floor.map((r) => r.wallMs)), cpuMs: median(floor.map((r) => r.cpuMs)), runs: floor.map((r) => r.wallMs) },
    ratioToOne: togetherMs / single.es.wallMs,
    cpuRatioToOne: median(together.map((r) => r.cpuMs)) / single.es.cpuMs,
    floorRatioToOne: median(floor.map((r) => r.wallMs)) / single.floor.wallMs,
  };
}

function summarizeMemory(results) {
  const small = max(results.single.es.maxRssKb);
  const big = results.big ? max(results.big.es.maxRssKb) : null;
  return { smallMb: small / 1024, bigMb: big === null ? null : big / 1024, growth: big === null ? null : big / small };
}

/** `es read --json` of the whole log through a pipe, counted, not kept: its peak memory and time. */
async function measureRead(db, events, es) {
  log(`read --json of ${fmt(events)} events`);
  const r = await es(db, ['read', '--json'], { countStdout: true });
  if (r.code !== 0) throw new Error(`es read --json exited ${r.code}:\n${r.stderr.slice(-2000)}`);
  if (r.stdoutLines !== events) throw new Error(`es read --json printed ${r.stdoutLines} lines, expected ${events}`);
  log(`  ${fmt(r.wallMs)} ms, ${fmt(r.maxRssKb / 1024)} MB peak`);
  return { events, wallMs: r.wallMs, cpuMs: r.cpuMs, maxRssKb: r.maxRssKb, bytes: r.stdoutBytes };
}

/**
 * The five benchmark projections under other names, never run: status then has the whole log
 * pending for each, the case a CI step or a Prometheus job meets when a runner is down.
 */
function pendingProjections(data) {
  const dir = join(data, 'projections-never-run');
  mkdirSync(dir, { recursive: true });
  for (const name of FIVE) {
    const source = join(PROJECTIONS, `${name}.mjs`);
    writeFileSync(join(dir, `${name}.mjs`), `import p from ${JSON.stringify(source)};\nexport default { ...p, name: '${name}-never-run' };\n`);
  }
  return dir;
}

async function measureStatus(db, o, es, data) {
  const times = { all: [], pending: [], one: [], nodeAlone: [], version: [] };
  const neverRun = pendingProjections(data);
  let lastOut = null;
  let pendingLag = null;
  for (let r = 0; r < o.statusRuns; r++) {
    const all = await es(db, ['project', 'status', '--json'], { measureRss: false });
    if (all.code !== 0) throw new Error(`es project status exited ${all.code} (not caught up?):\n${all.stdout}${all.stderr}`);
    lastOut = JSON.parse(all.stdout);
    times.all.push(all.wallMs);
    // Side by side with the caught-up run: the same five projections with every event pending (exit 1: never run).
    const pending = await es(db, ['--projections', neverRun, 'project', 'status', '--json'], { measureRss: false });
    if (pending.code !== 1) throw new Error(`es project status (never run) exited ${pending.code}:\n${pending.stderr}`);
    pendingLag = Math.max(...JSON.parse(pending.stdout).projections.map((p) => p.lag));
    times.pending.push(pending.wallMs);
    const one = await es(db, ['project', 'status', 'streams', '--json'], { measureRss: false });
    times.one.push(one.wallMs);
    times.nodeAlone.push((await run(process.execPath, ['-e', '0'], { measureRss: false })).wallMs);
    times.version.push((await run(process.execPath, [ES, '--version'], { measureRss: false })).wallMs);
  }
  // The engine's part, in this process: open the store, load the projections, compute status.
  const { openSqliteStore, loadProjections, status } = await import(join(ROOT, 'dist/index.js'));
  const inProcess = [];
  const store = openSqliteStore(db);
  const projections = await loadProjections(PROJECTIONS);
  for (let r = 0; r < o.statusRuns; r++) {
    const t0 = performance.now();
    await status(store, projections);
    inProcess.push(performance.now() - t0);
  }
  await store.close();
  const sum = (list) => ({ medianMs: median(list), maxMs: max(list), runs: list });
  return {
    head: lastOut.head,
    states: lastOut.projections.map((p) => `${p.name}:${p.state}`),
    all: sum(times.all),
    pending: sum(times.pending),
    pendingLag,
    one: sum(times.one),
    nodeAlone: sum(times.nodeAlone),
    version: sum(times.version),
    engine: sum(inProcess),
  };
}

async function measurePeer(o, data, node, rebuild, floor) {
  const peerStore = await cachedStore(data, o.peerEvents, log);
  const out = { events: o.peerEvents, installed: existsSync(join(PEERS, 'node_modules/@event-driven-io/emmett-sqlite')) };
  // es and the floor on exactly the events Emmett gets (the log is the same prefix at every size).
  const runs = { floor: [], es: [] };
  await rebuild(peerStore.path, ['streams']);
  for (let r = 0; r < o.runs; r++) {
    runs.es.push(await rebuild(peerStore.path, ['streams']));
    runs.floor.push(await floor(peerStore.path, 'streams'));
  }
  out.local = summarizeSingle(runs, o.peerEvents);
  if (!out.installed) {
    out.skipped = 'bench/peers/node_modules is missing: install the peer with `npm --prefix bench/peers install`';
    log(`peer: skipped (${out.skipped})`);
    return out;
  }
  const pkg = (name) => JSON.parse(readFileSync(join(PEERS, 'node_modules', name, 'package.json'), 'utf8')).version;
  out.versions = { emmett: pkg('@event-driven-io/emmett'), emmettSqlite: pkg('@event-driven-io/emmett-sqlite'), sqlite3: pkg('sqlite3') };
  const target = join(data, `emmett-${o.peerEvents}.db`);
  log(
    `peer: Emmett ${out.versions.emmettSqlite} on ${o.peerEvents.toLocaleString('en-US')} events${existsSync(target) ? '' : ' (copying the log into an Emmett store first)'}`,
  );
  const defaultsEvents = Math.min(o.peerEvents, o.quick ? 2000 : 10_000);
  const r = await run(node, [join(PEERS, 'emmett.js'), peerStore.path, target, String(o.batch), '0', String(defaultsEvents)], {
    cwd: PEERS,
    timeoutMs: 20 * 60_000,
  });
  if (r.code !== 0) {
    out.error = `bench/peers/emmett.js exited ${r.code ?? r.signal}: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`;
    log(`peer: ${out.error}`);
    return out;
  }
  out.emmett = JSON.parse(r.stdout.trim().split('\n').pop());
  out.emmett.maxRssKb = r.maxRssKb;
  // Like for like: es's engine time and Emmett's catch-up, both without process start-up.
  out.ratio = out.local.es.engineEventsPerSec / out.emmett.consumerEventsPerSec;
  out.processRatio = out.local.es.eventsPerSec / out.emmett.consumerEventsPerSec;
  log(`  Emmett consumer ${fmt(out.emmett.consumerEventsPerSec)}/s, es ${fmt(out.local.es.engineEventsPerSec)}/s (engine): ${out.ratio.toFixed(1)}x`);
  return out;
}

main().catch((error) => {
  process.stderr.write(`bench: ${error.stack ?? error}\n`);
  process.exitCode = 1;
});
