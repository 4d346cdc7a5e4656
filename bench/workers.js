// `npm run bench:workers` (also the last part of `npm run bench`): many workers on PostgreSQL.
// 3 workers × 12 projections: the spread after settling and the time to settle; the catch-up of all
// 12 from the first event (a rebuild's work) by 3 workers against 1; failover from kill -9 (a worker
// under another host name, so only its lease can tell it died, and one on this host, whose pid is
// checked) and from SIGTERM to the successor's first batch. Side by side in one run.
// The server: --url, else ES_BENCH_PG_URL or ES_TEST_PG_URL, else postgres://postgres@127.0.0.1:5432/test.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ES = join(ROOT, 'bin/es.js');
const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const URL_ = flag('--url', process.env.ES_BENCH_PG_URL ?? process.env.ES_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
const QUICK = args.includes('--quick');
const EVENTS = Number(flag('--events', QUICK ? '3000' : '20000'));
// The set-based catch-up reads more: each batch costs the worker more than the server.
const SET_EVENTS = Number(flag('--set-events', QUICK ? '20000' : '200000'));
const PROJECTIONS = 12;
const LEASE = flag('--lease', '5s');
const LEASE_MS = Number(/^(\d+)s$/.exec(LEASE)?.[1] ?? 5) * 1000;
const FAILOVERS = Number(flag('--failovers', QUICK ? '1' : '3'));
const REPORT = flag('--out', join(ROOT, QUICK ? 'bench/.data/workers.quick.md' : 'bench/reports/workers.md'));
const log = (line) => process.stderr.write(`${line}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const admin = new pg.Pool({ connectionString: URL_, max: 3 });

const names = Array.from({ length: PROJECTIONS }, (_, i) => `w${String(i + 1).padStart(2, '0')}`);

/** One upsert per event (`handlers`), or one per batch (`batch`, counts summed in the process). */
function projectionSource(name, t, shape) {
  const table = `async setup(db) { await db.query('CREATE TABLE IF NOT EXISTS ${t} (stream text PRIMARY KEY, n integer NOT NULL)'); },
  async reset(db) { await db.query('DELETE FROM ${t}'); },`;
  if (shape === 'batch') {
    return `export default {
  name: '${name}',
  ${table}
  async batch(events, db) {
    const counts = new Map();
    for (const e of events) counts.set(e.streamId, (counts.get(e.streamId) ?? 0) + 1);
    await db.query('INSERT INTO ${t} SELECT * FROM unnest($1::text[], $2::int[]) ON CONFLICT (stream) DO UPDATE SET n = ${t}.n + excluded.n', [[...counts.keys()], [...counts.values()]]);
  },
};
`;
  }
  return `export default {
  name: '${name}',
  ${table}
  handlers: { async '*'(event, db) { await db.query('INSERT INTO ${t} VALUES ($1, 1) ON CONFLICT (stream) DO UPDATE SET n = ${t}.n + 1', [event.streamId]); } },
};
`;
}

function workspace(schema, shape) {
  const dir = mkdtempSync(join(tmpdir(), 'es-bench-workers-'));
  const u = new URL(URL_);
  u.searchParams.set('schema', schema);
  writeFileSync(join(dir, 'es.config.json'), JSON.stringify({ db: u.toString() }));
  mkdirSync(join(dir, 'projections'));
  for (const name of names) {
    const t = `"${schema}".count_${name}`;
    writeFileSync(join(dir, 'projections', `${name}.mjs`), projectionSource(name, t, shape));
  }
  return { dir, url: u.toString(), schema };
}

async function newStore(tag, shape = 'handlers', events = EVENTS) {
  const schema = `bench_workers_${tag}_${process.pid}`;
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  const ws = workspace(schema, shape);
  const lines = Array.from({ length: events }, (_, i) => JSON.stringify({ streamId: `s-${i % 500}`, type: `T${i % 4}`, data: { i } }));
  const r = spawnSync(process.execPath, [ES, 'import', '-'], { cwd: ws.dir, input: lines.join('\n'), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`import failed: ${r.stderr}`);
  // Tables made once, before any worker starts (concurrent CREATE TABLE IF NOT EXISTS can collide).
  const setup = spawnSync(process.execPath, [ES, 'project', 'replay-from', names[0], '1'], { cwd: ws.dir, encoding: 'utf8' });
  if (setup.status !== 0) throw new Error(`setup failed: ${setup.stderr}`);
  for (const name of names.slice(1)) await admin.query(`CREATE TABLE IF NOT EXISTS "${schema}".count_${name} (stream text PRIMARY KEY, n integer NOT NULL)`);
  // Back to "never run" for every projection, so the workers do a rebuild's work.
  await admin.query(`DELETE FROM "${schema}".events WHERE stream_id LIKE '$checkpoint-%'`);
  await admin.query(`TRUNCATE "${schema}".count_${names[0]}`);
  return ws;
}

function startWorker(ws, host) {
  const esArgs = [ES, 'project', 'run', '--follow', '--lease', LEASE];
  const child = host
    ? spawn('unshare', ['--uts', '--fork', 'sh', '-c', 'hostname "$1" && shift && exec "$@"', 'sh', host, process.execPath, ...esArgs], {
        cwd: ws.dir,
        stdio: ['ignore', 'ignore', 'pipe'],
      })
    : spawn(process.execPath, esArgs, { cwd: ws.dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
  const exited = new Promise((r) => child.on('exit', r));
  return {
    child,
    exited,
    async pid() {
      for (let i = 0; i < 800; i++) {
        const m = /worker pid (\d+) on /.exec(err);
        if (m) return Number(m[1]);
        await sleep(25);
      }
      throw new Error(`no pid: ${err}`);
    },
  };
}

async function leases(schema) {
  const { rows } = await admin.query(
    `SELECT name, pid, host FROM "${schema}".es_locks WHERE owner_id <> '' AND expires_at > (extract(epoch FROM clock_timestamp()) * 1000)::bigint`,
  );
  return rows;
}

async function caughtUp(schema) {
  const { rows } = await admin.query(
    `SELECT count(*)::int AS n FROM (SELECT DISTINCT ON (stream_id) stream_id, (data->>'position')::bigint AS p FROM "${schema}".events
       WHERE stream_id LIKE '$checkpoint-%' ORDER BY stream_id, version DESC) c
     WHERE c.p >= (SELECT max(position) FROM "${schema}".events WHERE NOT system)`,
  );
  return rows[0].n === PROJECTIONS;
}

const spreadOf = (rows) => {
  const by = new Map();
  for (const r of rows) by.set(r.pid, (by.get(r.pid) ?? 0) + 1);
  return [...by.values()].sort((a, b) => b - a);
};

/** The machine's CPU time so far (all cores, from /proc/stat): busy and total jiffies. */
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

/** The share of the machine's CPU (all cores) used between two cpuTimes() readings. */
const busyShare = (a, b) => (a && b && b.total > a.total ? (b.busy - a.busy) / (b.total - a.total) : null);

/**
 * Time for `count` workers, started together, to bring all 12 projections from 0 to the head, and
 * how busy the machine's cores were meanwhile: workers can only go faster together on idle cores.
 */
async function catchUp(count, shape = 'handlers', events = EVENTS) {
  const ws = await newStore(`c${count}${shape[0]}`, shape, events);
  const cpuAtStart = cpuTimes();
  const started = performance.now();
  const workers = Array.from({ length: count }, () => startWorker(ws));
  while (!(await caughtUp(ws.schema))) await sleep(50);
  const ms = performance.now() - started;
  const cpu = busyShare(cpuAtStart, cpuTimes());
  for (const w of workers) w.child.kill('SIGTERM');
  await Promise.all(workers.map((w) => w.exited));
  await admin.query(`DROP SCHEMA "${ws.schema}" CASCADE`);
  rmSync(ws.dir, { recursive: true, force: true });
  return { ms, cpu };
}

/** Checkpoint events committed after `since` (ms since the epoch, server clock) per projection: the first one's time. */
async function firstBatches(schema, projections, since) {
  const { rows } = await admin.query(
    `SELECT substr(stream_id, 13) AS name, extract(epoch FROM min(recorded_at)) * 1000 AS at FROM "${schema}".events
     WHERE stream_id = ANY($1) AND type = 'Checkpoint' AND recorded_at > to_timestamp($2 / 1000.0) GROUP BY stream_id`,
    [projections.map((n) => `$checkpoint-${n}`), since],
  );
  return new Map(rows.map((r) => [r.name, Number(r.at)]));
}

async function main() {
  log(`bench:workers: PostgreSQL ${URL_.replace(/:[^:@/]*@/, ':***@')}, ${EVENTS} events, ${PROJECTIONS} projections, lease ${LEASE}`);
  const pct = (share) => (share === null ? '?' : `${Math.round(share * 100)}%`);
  const c1 = await catchUp(1);
  const one = c1.ms;
  log(`  1 worker: all 12 from 0 to the head in ${(one / 1000).toFixed(2)} s (CPU ${pct(c1.cpu)} busy)`);
  const c3 = await catchUp(3);
  const three = c3.ms;
  log(`  3 workers: ${(three / 1000).toFixed(2)} s (${(one / three).toFixed(2)}x; CPU ${pct(c3.cpu)} busy)`);
  const s1 = await catchUp(1, 'batch', SET_EVENTS);
  const oneSet = s1.ms;
  log(`  set-based, ${SET_EVENTS} events, 1 worker: ${(oneSet / 1000).toFixed(2)} s (CPU ${pct(s1.cpu)} busy)`);
  const s3 = await catchUp(3, 'batch', SET_EVENTS);
  const threeSet = s3.ms;
  log(`  set-based, 3 workers: ${(threeSet / 1000).toFixed(2)} s (${(oneSet / threeSet).toFixed(2)}x; CPU ${pct(s3.cpu)} busy)`);

  // Settling and failover on one store, with a writer appending throughout.
  const ws = await newStore('f');
  const hosts = spawnSync('unshare', ['--uts', '--fork', 'sh', '-c', 'hostname es-probe && hostname'], { encoding: 'utf8' }).stdout?.trim() === 'es-probe';
  const startedAt = performance.now();
  let workers = [
    startWorker(ws, hosts ? 'es-bench-1' : undefined),
    startWorker(ws, hosts ? 'es-bench-2' : undefined),
    startWorker(ws, hosts ? 'es-bench-3' : undefined),
  ];
  let pids = await Promise.all(workers.map((w) => w.pid()));
  let stableSince = null;
  for (;;) {
    const s = spreadOf(await leases(ws.schema));
    const ok = s.length === 3 && s.reduce((a, b) => a + b, 0) === PROJECTIONS && s[0] <= 5;
    if (ok) {
      stableSince ??= performance.now();
      if (performance.now() - stableSince >= 2000) break;
    } else stableSince = null;
    if (performance.now() - startedAt > 120_000) throw new Error(`did not settle: ${JSON.stringify(s)}`);
    await sleep(20);
  }
  const settledMs = stableSince - startedAt;
  const settledSpread = spreadOf(await leases(ws.schema));
  log(`  settled: ${settledSpread.join('/')} after ${(settledMs / 1000).toFixed(2)} s from starting 3 workers`);
  while (!(await caughtUp(ws.schema))) await sleep(100);

  let writing = true;
  let appended = 0;
  const writer = (async () => {
    let i = 0;
    while (writing) {
      appended += 1;
      await admin.query(
        `INSERT INTO "${ws.schema}".events (id, stream_id, version, type, data, metadata, system)
         SELECT gen_random_uuid()::text, 'w-' || $1::text, $1::int, 'T0', '{}', '{}', false`,
        [++i],
      );
      await admin.query(`SELECT pg_notify('es_events', $1)`, [ws.schema]);
      await sleep(20);
    }
  })().catch((error) => {
    log(`  the writer failed: ${error.message}`);
    throw error;
  });

  const results = { kill: [], term: [] };
  const failover = async (kind, index) => {
    const rows = await leases(ws.schema);
    const victimPid = pids[index];
    const moving = rows.filter((r) => r.pid === victimPid).map((r) => r.name);
    const {
      rows: [clock],
    } = await admin.query(`SELECT extract(epoch FROM clock_timestamp()) * 1000 AS now`);
    const t0 = Number(clock.now);
    process.kill(victimPid, kind === 'term' ? 'SIGTERM' : 'SIGKILL');
    let firsts;
    for (const deadline = Date.now() + LEASE_MS + 30_000; ;) {
      firsts = await firstBatches(ws.schema, moving, t0);
      if (moving.every((n) => firsts.has(n))) break;
      if (Date.now() > deadline) throw new Error(`${kind}: no first batch for ${moving.filter((n) => !firsts.has(n)).join(', ')} (appended ${appended})`);
      await sleep(20);
    }
    const worst = Math.max(...moving.map((n) => firsts.get(n) - t0));
    // Restart a worker in its place (same host name) and let the spread settle again.
    await workers[index].exited;
    workers[index] = startWorker(ws, hosts ? `es-bench-${index + 1}` : undefined);
    pids[index] = await workers[index].pid();
    for (let waited = 0; waited < 60_000; waited += 100) {
      const s = spreadOf(await leases(ws.schema));
      if (s.length === 3 && s[0] <= 5 && s.reduce((a, b) => a + b, 0) === PROJECTIONS) break;
      await sleep(100);
    }
    await sleep(1500);
    return { ms: worst, moved: moving.length };
  };
  for (let i = 0; i < FAILOVERS; i++) {
    const r = await failover('kill', i % 3);
    results.kill.push(r.ms);
    log(
      `  kill -9${hosts ? ' (a worker under its own host name: only the lease tells)' : ' (this host: the pid check may tell first)'} → successor's first batch: ${(r.ms / 1000).toFixed(2)} s (${r.moved} projections moved)`,
    );
  }
  for (let i = 0; i < FAILOVERS; i++) {
    const r = await failover('term', i % 3);
    results.term.push(r.ms);
    log(`  SIGTERM → successor's first batch: ${(r.ms / 1000).toFixed(2)} s (${r.moved} projections moved)`);
  }
  writing = false;
  await writer;
  // The workers' own pids: a signal to the `unshare` wrapper around one would not reach it.
  for (const pid of pids) process.kill(pid, 'SIGTERM');
  await Promise.all(workers.map((w) => w.exited));
  await admin.query(`DROP SCHEMA "${ws.schema}" CASCADE`);
  rmSync(ws.dir, { recursive: true, force: true });
  await admin.end();

  const max = (xs) => (xs.length ? Math.max(...xs) : null);
  const summary = {
    events: EVENTS,
    projections: PROJECTIONS,
    lease: LEASE,
    catchUpOneWorkerMs: Math.round(one),
    catchUpThreeWorkersMs: Math.round(three),
    threeVsOne: Number((one / three).toFixed(2)),
    setEvents: SET_EVENTS,
    catchUpSetOneWorkerMs: Math.round(oneSet),
    catchUpSetThreeWorkersMs: Math.round(threeSet),
    setThreeVsOne: Number((oneSet / threeSet).toFixed(2)),
    cpuBusy: { one: c1.cpu, three: c3.cpu, setOne: s1.cpu, setThree: s3.cpu },
    settledSpread,
    settleMs: Math.round(settledMs),
    killMaxMs: max(results.kill),
    killOnOwnHostName: hosts,
    sigtermMaxMs: max(results.term),
    goals: {
      threeVsOne: one / three >= 1.5,
      setThreeVsOne: oneSet / threeSet >= 1.5,
      spread: settledSpread.every((n) => n >= 3 && n <= 5),
      kill: max(results.kill) === null || max(results.kill) <= LEASE_MS + 1000,
      sigterm: max(results.term) < 1000,
    },
  };
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  const yes = (ok) => (ok ? 'met' : 'missed');
  const secs = (ms) => (ms === null ? '-' : `${(ms / 1000).toFixed(2)} s`);
  mkdirSync(dirname(REPORT), { recursive: true });
  writeFileSync(
    REPORT,
    `# Many workers on PostgreSQL (\`npm run bench:workers\`)

${new Date().toISOString()}: ${EVENTS} events, ${PROJECTIONS} projections (one upsert per event each), lease ${LEASE},
load average at the end ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} on ${require_cpus()} cores.

| figure | measured | goal |
| --- | --- | --- |
| spread of 12 over 3 workers, settled | ${settledSpread.join(' / ')} | 4 ± 1 each: ${yes(summary.goals.spread)} |
| time to settle (3 workers started together, while catching up) | ${secs(summary.settleMs)} | |
| all 12 from 0 to the head, 1 worker (CPU busy, all cores) | ${secs(summary.catchUpOneWorkerMs)} (${pct(c1.cpu)}) | |
| all 12 from 0 to the head, 3 workers | ${secs(summary.catchUpThreeWorkersMs)} (${pct(c3.cpu)}): ${summary.threeVsOne}x | ≥ 1.5x: ${yes(summary.goals.threeVsOne)} |
| set-based (\`batch\`, one upsert per batch), ${SET_EVENTS} events: all 12, 1 worker | ${secs(summary.catchUpSetOneWorkerMs)} (${pct(s1.cpu)}) | |
| set-based, all 12, 3 workers | ${secs(summary.catchUpSetThreeWorkersMs)} (${pct(s3.cpu)}): ${summary.setThreeVsOne}x | ≥ 1.5x: ${yes(summary.goals.setThreeVsOne)} |
| kill -9 → successor's first batch (worst of ${results.kill.length}${hosts ? ', workers under their own host names' : ''}) | ${secs(summary.killMaxMs)} | ≤ lease + 1 s: ${yes(summary.goals.kill)} |
| SIGTERM → successor's first batch (worst of ${results.term.length}) | ${secs(summary.sigtermMaxMs)} | < 1 s: ${yes(summary.goals.sigterm)} |

Workers on one machine go faster together only on cores that one worker leaves idle: with the
server on the same ${require_cpus()} cores, one worker already kept them ${pct(c1.cpu)} busy (per-event) and ${pct(s1.cpu)}
(set-based), so ${(1 / Math.max(c1.cpu ?? 1, 0.01)).toFixed(2)}x and ${(1 / Math.max(s1.cpu ?? 1, 0.01)).toFixed(2)}x were the most that more workers could add here.
`,
  );
  log(`  report: ${REPORT}`);
}

function require_cpus() {
  return spawnSync('nproc', { encoding: 'utf8' }).stdout.trim();
}

main().catch((error) => {
  log(`bench:workers failed: ${error.stack ?? error}`);
  process.exit(1);
});
