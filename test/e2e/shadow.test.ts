/**
 * Rebuild beside the live read model (`rebuild --shadow`, `promote`, `drop-shadow`, `verify`), end to
 * end on each event store: the real CLI in child processes, the read model looked at from outside
 * through the database's own driver while they run, and kill -9 at random (seeded) instants.
 *
 * One projection file plays the old and the new code: its `version` is the environment's V, and each
 * handled event is recorded with that version and with `context.replaying`. Every workspace has a
 * database of its own: on PostgreSQL a fresh database (the read model's unqualified tables live in
 * its `public` schema, the shadow in `es_shadow_<name>`, so two workspaces in one database would
 * share them).
 *
 * The kill schedule is drawn from a seed printed on stderr (ES_SHADOW_KILL_SEED=<n> replays it);
 * ES_SHADOW_TRACE=1 prints each es command with its time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { storeKinds, type StoreKind } from '../support/backends.js';
import { pgServerUrl, untilVisible } from '../support/pg.js';
import { seedFrom, streams } from '../support/seeded.js';
import { ES_BIN, baseEnv, cleanupTempDirs, esBackground, parseJson, tempDir, writeFile, type EsResult } from './helpers.js';

const DIST_INDEX = new URL('../../dist/index.js', import.meta.url).href;
const STREAMS = 61;

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => {});
  cleanupTempDirs();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// Projection files

/**
 * `totals`, version V: per stream the sum of the `Added` events' n (`n`), how many it handled (`c`)
 * and the version that last wrote the row (`v`); `totals_seen` has one row per handled event under a
 * unique key (a second application faults) and a generated key `seq` (AUTOINCREMENT, BIGSERIAL: its
 * sequence must come along with a promoted table), with the version and `context.replaying`.
 *
 * With PURE=1 the read model is a function of the events alone, as `verify` wants: `replaying` is
 * always 0, and there is no generated key (a PostgreSQL sequence is not transactional: a batch rolled
 * back, by a fence say, leaves a gap).
 */
function totalsSource(kind: StoreKind): string {
  const tables = `tables: ['totals', 'totals_seen']`;
  if (kind.synchronous) {
    return `const V = Number(process.env.V ?? 1);
const PURE = process.env.PURE === '1';
const SEEN = (PURE ? '' : 'seq INTEGER PRIMARY KEY AUTOINCREMENT, ') + 'event_id TEXT NOT NULL UNIQUE, position INTEGER NOT NULL, replaying INTEGER NOT NULL, v INTEGER NOT NULL';
export default {
  name: 'totals', version: V, ${tables}, events: ['Added'],
  setup(db) {
    db.exec('CREATE TABLE IF NOT EXISTS totals (stream TEXT PRIMARY KEY, n INTEGER NOT NULL, c INTEGER NOT NULL, v INTEGER NOT NULL)');
    db.exec('CREATE INDEX IF NOT EXISTS totals_n ON totals (n)');
    db.exec('CREATE TABLE IF NOT EXISTS totals_seen (' + SEEN + ')');
  },
  reset(db) { db.exec('DELETE FROM totals; DELETE FROM totals_seen'); },
  handlers: {
    Added(e, db, ctx) {
      db.prepare('INSERT INTO totals (stream, n, c, v) VALUES (?, ?, 1, ?) ON CONFLICT (stream) DO UPDATE SET n = n + excluded.n, c = c + 1, v = excluded.v').run(e.streamId, e.data.n, V);
      db.prepare('INSERT INTO totals_seen (event_id, position, replaying, v) VALUES (?, ?, ?, ?)').run(e.id, e.position, !PURE && ctx.replaying ? 1 : 0, V);
    },
  },
};
`;
  }
  return `const V = Number(process.env.V ?? 1);
const PURE = process.env.PURE === '1';
const SEEN = (PURE ? '' : 'seq BIGSERIAL PRIMARY KEY, ') + 'event_id TEXT NOT NULL UNIQUE, position BIGINT NOT NULL, replaying INTEGER NOT NULL, v INTEGER NOT NULL';
export default {
  name: 'totals', version: V, ${tables}, events: ['Added'],
  async setup(db) {
    await db.query('CREATE TABLE IF NOT EXISTS totals (stream TEXT PRIMARY KEY, n INTEGER NOT NULL, c INTEGER NOT NULL, v INTEGER NOT NULL)');
    await db.query('CREATE INDEX IF NOT EXISTS totals_n ON totals (n)');
    await db.query('CREATE TABLE IF NOT EXISTS totals_seen (' + SEEN + ')');
  },
  async reset(db) { await db.query('DELETE FROM totals'); await db.query('DELETE FROM totals_seen'); },
  handlers: {
    async Added(e, db, ctx) {
      await db.query('INSERT INTO totals (stream, n, c, v) VALUES ($1, $2, 1, $3) ON CONFLICT (stream) DO UPDATE SET n = totals.n + excluded.n, c = totals.c + 1, v = excluded.v', [e.streamId, e.data.n, V]);
      await db.query('INSERT INTO totals_seen (event_id, position, replaying, v) VALUES ($1, $2, $3, $4)', [e.id, e.position, !PURE && ctx.replaying ? 1 : 0, V]);
    },
  },
};
`;
}

/** `clocked`: a handler that is not a function of the events (it writes the clock). */
function clockedSource(kind: StoreKind): string {
  const ddl = 'CREATE TABLE IF NOT EXISTS clocked (stream TEXT PRIMARY KEY, at BIGINT NOT NULL)';
  return kind.synchronous
    ? `export default { name: 'clocked', tables: ['clocked'], events: ['Added'],
  setup(db) { db.exec('${ddl}'); },
  reset(db) { db.exec('DELETE FROM clocked'); },
  handlers: { Added(e, db) { db.prepare('INSERT INTO clocked VALUES (?, ?) ON CONFLICT (stream) DO UPDATE SET at = excluded.at').run(e.streamId, Date.now()); } } };
`
    : `export default { name: 'clocked', tables: ['clocked'], events: ['Added'],
  async setup(db) { await db.query('${ddl}'); },
  async reset(db) { await db.query('DELETE FROM clocked'); },
  handlers: { async Added(e, db) { await db.query('INSERT INTO clocked VALUES ($1, $2) ON CONFLICT (stream) DO UPDATE SET at = excluded.at', [e.streamId, Date.now()]); } } };
`;
}

/** `plain`: no `tables` field, so it cannot be rebuilt beside its read model. */
function plainSource(kind: StoreKind): string {
  const ddl = 'CREATE TABLE IF NOT EXISTS plain_rows (event_id TEXT PRIMARY KEY)';
  return kind.synchronous
    ? `export default { name: 'plain', version: Number(process.env.V ?? 1), events: ['Added'],
  setup(db) { db.exec('${ddl}'); },
  reset(db) { db.exec('DELETE FROM plain_rows'); },
  handlers: { Added(e, db) { db.prepare('INSERT INTO plain_rows VALUES (?)').run(e.id); } } };
`
    : `export default { name: 'plain', version: Number(process.env.V ?? 1), events: ['Added'],
  async setup(db) { await db.query('${ddl}'); },
  async reset(db) { await db.query('DELETE FROM plain_rows'); },
  handlers: { async Added(e, db) { await db.query('INSERT INTO plain_rows VALUES ($1)', [e.id]); } } };
`;
}

/** Appends `Added` events (one per transaction) until SIGTERM, then prints how many. */
const APPENDER = `import { openStore } from ${JSON.stringify(DIST_INDEX)};
const store = await openStore(process.argv[2]);
let stop = false;
process.on('SIGTERM', () => { stop = true; });
let k = 0;
while (!stop) {
  await store.append('a-' + (k % 17), [{ id: 'a-' + k, type: 'Added', data: { n: (k % 5) + 1 } }], 'any');
  k++;
  await new Promise((resolve) => setTimeout(resolve, 2));
}
await store.close();
console.log(k);
`;

// ---------------------------------------------------------------------------------------------
// Workspaces

/** One look at the live read model, in one statement (one snapshot). */
interface Sample {
  rows: number;
  total: number;
  handled: number;
  seen: number;
  versions: number;
  seenVersions: number;
  v: number;
}

const PROBE = `SELECT (SELECT count(*) FROM totals) AS rows, (SELECT coalesce(sum(n), 0) FROM totals) AS total,
  (SELECT coalesce(sum(c), 0) FROM totals) AS handled, (SELECT count(*) FROM totals_seen) AS seen,
  (SELECT count(DISTINCT v) FROM totals) AS versions, (SELECT count(DISTINCT v) FROM totals_seen) AS "seenVersions",
  (SELECT coalesce(max(v), 0) FROM totals) AS v`;

interface Workspace {
  kind: StoreKind;
  dir: string;
  /** The store's URL (for the appender). */
  url: string;
  /**
   * `es …` to completion, with the projection file's version V. Never blocking this process: the
   * readers, kill timers and the other store's suite go on meanwhile.
   */
  es(args: string[], version?: number, input?: string): Promise<EsResult>;
  /** Rows of a query on the read model's database (a connection of the driver's own, outside es). */
  rows(sql: string): Promise<Record<string, unknown>[]>;
  /** A statement on the live read model, by hand. */
  exec(sql: string): Promise<void>;
  /** Whether a copy (`shadow` or `verify`) has its home: the file beside the store, or the schema. */
  copyExists(slot: 'shadow' | 'verify', name: string): Promise<boolean>;
  /** The store's table of events (for looks at it straight from the database, not through es). */
  events: string;
  /**
   * Until every appended event is visible to a projection: on PostgreSQL reads stop below the oldest
   * transaction in flight anywhere on the server (see untilVisible). At once on SQLite.
   */
  settle(): Promise<void>;
}

/** Events: `Added` (n from 1 to 13) over STREAMS streams, every tenth a `Noted` the projections do not handle. */
function eventLines(count: number, from = 0): string {
  const lines: string[] = [];
  for (let i = from; i < from + count; i++) {
    lines.push(JSON.stringify({ id: `e-${i}`, streamId: `s-${i % STREAMS}`, type: i % 10 === 9 ? 'Noted' : 'Added', data: { n: ((i * 7) % 13) + 1 } }));
  }
  return `${lines.join('\n')}\n`;
}

async function freshDatabase(): Promise<string> {
  const server = pgServerUrl();
  const name = `es_shadow_e2e_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  closers.push(async () => {
    const client = new pg.Client({ connectionString: server });
    await client.connect();
    try {
      await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    } finally {
      await client.end();
    }
  });
  const url = new URL(server);
  url.pathname = `/${name}`;
  return url.toString();
}

async function workspace(kind: StoreKind, events: number, extra: { clocked?: boolean; plain?: boolean; pure?: boolean } = {}): Promise<Workspace> {
  const dir = tempDir('es-shadow-');
  writeFile(dir, 'projections/totals.mjs', totalsSource(kind));
  if (extra.clocked) writeFile(dir, 'projections/clocked.mjs', clockedSource(kind));
  if (extra.plain) writeFile(dir, 'projections/plain.mjs', plainSource(kind));
  writeFile(dir, 'appender.mjs', APPENDER);
  let url: string;
  let ws: Pick<Workspace, 'rows' | 'exec' | 'copyExists' | 'events' | 'settle'>;
  if (kind.name === 'postgres') {
    url = await freshDatabase();
    writeFile(dir, 'es.config.json', JSON.stringify({ db: url }));
    const pool = new pg.Pool({ connectionString: url, max: 3 });
    pool.on('error', () => {});
    closers.push(() => pool.end());
    ws = {
      events: 'es.events',
      settle: () => untilVisible(pool as never, 'es', 120_000),
      rows: async (sql) => (await pool.query(sql)).rows,
      exec: async (sql) => void (await pool.query(sql)),
      copyExists: async (slot, name) => (await pool.query('SELECT to_regnamespace($1) IS NOT NULL AS e', [`es_${slot}_${name}`])).rows[0].e === true,
    };
  } else {
    const file = join(dir, '.es', 'events.db');
    url = `sqlite:${file}`;
    let reader: Database.Database | null = null;
    closers.push(async () => void reader?.close());
    ws = {
      events: 'events',
      settle: async () => {},
      rows: async (sql) => {
        reader ??= new Database(file, { readonly: true, fileMustExist: true, timeout: 10_000 });
        return reader.prepare(sql).all() as Record<string, unknown>[];
      },
      exec: async (sql) => {
        const db = new Database(file, { fileMustExist: true, timeout: 10_000 });
        try {
          db.exec(sql);
        } finally {
          db.close();
        }
      },
      copyExists: async (slot, name) => existsSync(join(dir, '.es', `events.${slot}-${name}.db`)),
    };
  }
  const env = (version?: number) => ({ ...(version === undefined ? {} : { V: String(version) }), ...(extra.pure ? { PURE: '1' } : {}) });
  const space: Workspace = {
    kind,
    dir,
    url,
    es: async (args, version, input) => {
      const started = performance.now();
      const result = await esAsync(dir, args, env(version), input);
      trace(args, started);
      return result;
    },
    ...ws,
  };
  writeFile(dir, 'events.ndjson', eventLines(events));
  expect((await space.es(['import', 'events.ndjson'])).code).toBe(0);
  await space.settle();
  return space;
}

/** With ES_SHADOW_TRACE set, each es command and its time on stderr (where a slow run spends it). */
function trace(args: string[], started: number): void {
  if (process.env.ES_SHADOW_TRACE) console.error(`es ${args.join(' ')}: ${Math.round(performance.now() - started)} ms`);
}

/** `es <args…>` in `cwd` to completion, as a child this process does not wait for in a blocking call. */
function esAsync(cwd: string, args: string[], env: Record<string, string>, input?: string): Promise<EsResult> {
  const child = spawn(process.execPath, [ES_BIN, ...args], { cwd, env: baseEnv(env), stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  if (input !== undefined) child.stdin?.end(input);
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Appends `count` more events (ids from `from` on). */
async function appendEvents(ws: Workspace, count: number, from: number): Promise<void> {
  const r = await ws.es(['import', '-'], undefined, eventLines(count, from));
  expect(r.code, r.stderr).toBe(0);
  await ws.settle();
}

function ok(r: EsResult, what: string): EsResult {
  expect(r.code, `${what}: exit ${r.code} ${r.signal ?? ''}\n${r.stderr}`).toBe(0);
  return r;
}

interface StatusRow {
  name: string;
  version: number;
  position: number;
  lag: number;
  state: string;
  shadow: { version: number; position: number; lag: number; state: string } | null;
}

async function statusOf(ws: Workspace, name: string, version?: number): Promise<StatusRow & { head: number }> {
  const r = await ws.es(['project', 'status', name, '--json'], version);
  const doc = parseJson<{ head: number; projections: StatusRow[] }>(r.stdout);
  const row = doc.projections.find((p) => p.name === name);
  if (!row) throw new Error(`no status row for ${name}: ${r.stdout} ${r.stderr}`);
  return { ...row, head: doc.head };
}

const json = (data: unknown): Record<string, unknown> => (typeof data === 'string' ? JSON.parse(data) : (data as Record<string, unknown>));

/** The live checkpoint's position and version, as its stream's last event says (read from the store's table). */
async function liveCheckpoint(ws: Workspace, name = 'totals'): Promise<{ position: number; version: number; type: string }> {
  const [last] = await ws.rows(`SELECT type, data FROM ${ws.events} WHERE stream_id = '$checkpoint-${name}' ORDER BY version DESC LIMIT 1`);
  if (!last) throw new Error(`${name} has no checkpoint`);
  const data = json(last.data);
  return { position: Number(data.position), version: Number(data.version), type: String(last.type) };
}

interface Added {
  id: string;
  position: number;
  streamId: string;
  n: number;
}

/** The `Added` events of the store, in position order (read from the store's table). */
async function addedEvents(ws: Workspace): Promise<Added[]> {
  const rows = await ws.rows(`SELECT id, position, stream_id, data FROM ${ws.events} WHERE type = 'Added' ORDER BY position`);
  return rows.map((r) => ({ id: String(r.id), position: Number(r.position), streamId: String(r.stream_id), n: Number(json(r.data).n) }));
}

/** The head: the last position outside system streams. */
async function headOf(ws: Workspace): Promise<number> {
  const [row] = await ws.rows(`SELECT max(position) AS head FROM ${ws.events} WHERE stream_id NOT LIKE '$%'`);
  return Number(row?.head ?? 0);
}

/** Runs `totals` until nothing is left (on PostgreSQL, events committed by other test files' transactions may show late). */
async function runToHead(ws: Workspace, version: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await ws.es(['project', 'run', 'totals', '--json', '--wait', '20s'], version);
    ok(r, `run totals (V=${version})`);
    expect(parseJson(r.stdout).projections[0].state).toBe('up-to-date');
    const [at, head] = [(await liveCheckpoint(ws)).position, await headOf(ws)];
    if (at >= head) return;
    if (Date.now() > deadline) throw new Error(`totals still at ${at}, short of ${head}, after a minute`);
    await sleep(200);
  }
}

interface Model {
  totals: { stream: string; n: number; c: number; v: number }[];
  seen: { seq: number | null; event_id: string; position: number; replaying: number; v: number }[];
}

async function model(ws: Workspace): Promise<Model> {
  const totals = (await ws.rows('SELECT stream, n, c, v FROM totals')).map((r) => ({
    stream: String(r.stream),
    n: Number(r.n),
    c: Number(r.c),
    v: Number(r.v),
  }));
  const seen = (await ws.rows('SELECT * FROM totals_seen')).map((r) => ({
    seq: r.seq === undefined ? null : Number(r.seq),
    event_id: String(r.event_id),
    position: Number(r.position),
    replaying: Number(r.replaying),
    v: Number(r.v),
  }));
  totals.sort((a, b) => (a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : 0));
  seen.sort((a, b) => a.position - b.position);
  return { totals, seen };
}

/**
 * The read model is exactly what one uninterrupted run of `version` over the live checkpoint's
 * events leaves: computed here from the events in the store's table.
 */
async function expectExact(ws: Workspace, version: number, label: string): Promise<Model> {
  const upTo = (await liveCheckpoint(ws)).position;
  const added = (await addedEvents(ws)).filter((e) => e.position <= upTo);
  const byStream = new Map<string, { stream: string; n: number; c: number; v: number }>();
  for (const e of added) {
    const row = byStream.get(e.streamId) ?? { stream: e.streamId, n: 0, c: 0, v: version };
    row.n += e.n;
    row.c += 1;
    byStream.set(e.streamId, row);
  }
  const want = [...byStream.values()].sort((a, b) => (a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : 0));
  const got = await model(ws);
  expect(got.totals, `${label}: totals`).toEqual(want);
  expect(
    got.seen.map((s) => ({ event_id: s.event_id, position: s.position, v: s.v })),
    `${label}: every event handled once, by version ${version}`,
  ).toEqual(added.map((e) => ({ event_id: e.id, position: e.position, v: version })));
  // The generated keys went on from the promoted table's (its sequence came with it): in handling order.
  const outOfOrder = got.seen.filter((s, i) => i > 0 && s.seq !== null && s.seq <= (got.seen[i - 1]?.seq ?? 0));
  expect(outOfOrder, `${label}: generated keys in the order the events were handled`).toEqual([]);
  return got;
}

// ---------------------------------------------------------------------------------------------
// A reader of the live read model, looking all the time

interface Reading {
  samples: Sample[];
  problems: string[];
}

/**
 * Looks at the live read model in a loop (one statement per look, a few ms apart) until stopped,
 * and notes each look that a reader must never see: fewer rows, a smaller sum or fewer handled events
 * than the look before, an empty table, the two tables out of step, rows of two versions at once, an
 * older version after a newer one, or a failed read (a missing table).
 */
function startReader(ws: Workspace): { stop(): Promise<Reading> } {
  const samples: Sample[] = [];
  const problems: string[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      let s: Sample;
      try {
        const [row] = await ws.rows(PROBE);
        s = Object.fromEntries(Object.entries(row ?? {}).map(([k, v]) => [k, Number(v)])) as unknown as Sample;
      } catch (error) {
        const message = (error as Error).message;
        // A reader that is told to wait is not shown anything; anything else is a failure it sees.
        if (!/SQLITE_BUSY|database is locked/.test(message)) problems.push(`read failed: ${message}`);
        await sleep(2);
        continue;
      }
      const before = samples.at(-1);
      const say = (what: string) => problems.push(`${what}: ${JSON.stringify(before)} then ${JSON.stringify(s)}`);
      if (s.rows === 0) say('empty');
      if (before && (s.rows < before.rows || s.total < before.total || s.handled < before.handled)) say('fewer than before');
      if (s.handled !== s.seen) say('tables out of step');
      if (s.versions > 1 || s.seenVersions > 1) say('two versions at once');
      if (before && s.v < before.v) say('an older version after a newer one');
      samples.push(s);
      await sleep(2);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return { samples, problems };
    },
  };
}

/** The position in the shadow's own mark (its database's record of where it stands); 0 when it has none. */
async function shadowMark(ws: Workspace): Promise<number> {
  if (ws.kind.name === 'postgres') {
    const [row] = await ws.rows(`SELECT CASE WHEN to_regclass('es_shadow_totals.es_shadow_mark') IS NULL THEN NULL ELSE 1 END AS present`);
    if (row?.present === null) return 0;
    const [mark] = await ws.rows('SELECT position FROM es_shadow_totals.es_shadow_mark');
    return Number(mark?.position ?? 0);
  }
  const file = join(ws.dir, '.es', 'events.shadow-totals.db');
  if (!existsSync(file)) return 0;
  const db = new Database(file, { readonly: true, timeout: 10_000 });
  try {
    // A build that is only starting may not have made its mark's table yet.
    if (!db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'es_shadow_mark'").get()) return 0;
    const mark = db.prepare('SELECT position FROM es_shadow_mark').get() as { position: number } | undefined;
    return mark?.position ?? 0;
  } finally {
    db.close();
  }
}

function killAfter(ws: Workspace, args: string[], version: number, ms: number): Promise<{ killed: boolean; code: number | null; stderr: string }> {
  const run = esBackground(ws.dir, args, { V: String(version) });
  let killed = false;
  const timer = setTimeout(() => {
    killed = run.child.kill('SIGKILL');
  }, ms);
  return run.exited.then(({ code, signal }) => {
    clearTimeout(timer);
    return { killed: killed && signal === 'SIGKILL', code, stderr: run.output().stderr };
  });
}

/** Resolves once `check` holds (looked at every 50 ms); throws after `ms`. */
async function until(check: () => Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms / 1000} s: ${what}`);
    await sleep(50);
  }
}

/** The appender (see APPENDER), started: `until` the store holds `count` of its events above a position; `stop` says how many it appended. */
function startAppender(ws: Workspace) {
  const child = spawn(process.execPath, [join(ws.dir, 'appender.mjs'), ws.url], { cwd: ws.dir, env: baseEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
  const done = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const above = async (position: number) =>
    Number((await ws.rows(`SELECT count(*) AS n FROM ${ws.events} WHERE id LIKE 'a-%' AND position > ${position}`))[0]?.n);
  return {
    child,
    async until(count: number, position = 0): Promise<void> {
      const deadline = Date.now() + 20_000;
      while ((await above(position)) < count) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the appender did not append ${count} events: ${out}`);
        await sleep(20);
      }
    },
    async stop(): Promise<number> {
      stopChild(child);
      expect(await done, out).toBe(0);
      await ws.settle();
      return Number(out.trim());
    },
  };
}

function stopChild(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
}

// ---------------------------------------------------------------------------------------------

// The two stores' suites run side by side (a PostgreSQL suite mostly waits for the server); the
// tests of each run one after the other.
describe.concurrent.each(storeKinds())('rebuild beside the live read model on %s', (kind) => {
  // Small batches, so that a build takes many commits (and readers and kills fall between them); on
  // PostgreSQL, where each commit waits for the disk twice, fewer events and larger batches.
  const EVENTS = kind.name === 'postgres' ? 1200 : 3000;
  const ADDED = EVENTS - EVENTS / 10;
  const BATCH = kind.name === 'postgres' ? '100' : '30';
  // The kill test builds a shadow from the first event once per version: a smaller log.
  const KILL_EVENTS = kind.name === 'postgres' ? 400 : 1500;
  const CATCH_UP = kind.name === 'postgres' ? 80 : 150;
  // Batches small enough that a build, and a promote's catch-up, last well beyond the process's start.
  const KILL_BATCH = kind.name === 'postgres' ? '20' : '5';

  it.sequential(
    'readers never see a partial or empty read model during rebuild --shadow and promote, but do during a plain rebuild',
    async () => {
      const ws = await workspace(kind, EVENTS);
      ok(await ws.es(['project', 'run', 'totals'], 1), 'run V=1');
      await expectExact(ws, 1, 'after the first run');

      const reader = startReader(ws);
      await sleep(50);
      const built = ok(await ws.es(['project', 'rebuild', 'totals', '--shadow', '--batch-size', BATCH, '--json'], 2), 'rebuild --shadow');
      const [row] = parseJson(built.stdout).projections;
      expect(row).toMatchObject({ name: 'totals', from: 0, to: (await liveCheckpoint(ws)).position, processed: ADDED, state: 'up-to-date', shadow: true });
      await sleep(50);
      const promoted = ok(await ws.es(['project', 'promote', 'totals', '--json'], 2), 'promote');
      await sleep(50);
      const reading = await reader.stop();
      expect(reading.problems).toEqual([]);
      expect(reading.samples.length).toBeGreaterThan(20);
      expect(reading.samples[0]).toMatchObject({ rows: STREAMS, handled: ADDED, v: 1 });
      expect(reading.samples.at(-1)).toMatchObject({ rows: STREAMS, handled: ADDED, v: 2 });
      expect(parseJson(promoted.stdout).projections[0]).toMatchObject({
        name: 'totals',
        version: 2,
        position: (await liveCheckpoint(ws)).position,
        caughtUp: 0,
      });
      expect(await liveCheckpoint(ws)).toMatchObject({ version: 2, type: 'Promoted' });
      const after = await expectExact(ws, 2, 'after the promote');
      // The shadow handled every event as a replay: the live version 1 had handled them already.
      expect(after.seen.every((s) => s.replaying === 1)).toBe(true);
      expect(await ws.copyExists('shadow', 'totals')).toBe(false);

      // The same reader does see a rebuild in place empty the read model and fill it again.
      const inPlace = startReader(ws);
      await sleep(50);
      ok(await ws.es(['project', 'rebuild', 'totals', '--batch-size', BATCH], 2), 'rebuild in place');
      const seenInPlace = await inPlace.stop();
      expect(seenInPlace.problems.some((p) => p.startsWith('fewer than before') || p.startsWith('empty'))).toBe(true);
      await expectExact(ws, 2, 'after the rebuild in place');
    },
    90_000,
  );

  it.sequential(
    'promote while rebuild --shadow --follow is still building: it swaps in the whole shadow, and the builder stops by itself (exit 0)',
    async () => {
      const ws = await workspace(kind, EVENTS / 2);
      ok(await ws.es(['project', 'run', 'totals'], 1), 'run V=1');
      const P = (await liveCheckpoint(ws)).position;
      const builder = esBackground(ws.dir, ['project', 'rebuild', 'totals', '--shadow', '--follow', '--batch-size', '10', '--lease', '5s'], { V: '2' });
      try {
        await until(async () => (await shadowMark(ws)) > 0, 'the builder commits');
        const promoted = await ws.es(['project', 'promote', 'totals', '--batch-size', '10', '--json'], 2);
        expect(promoted.code, `${promoted.stderr}\nthe builder: ${builder.output().stderr}`).toBe(0);
        expect(parseJson(promoted.stdout).projections[0]).toMatchObject({ name: 'totals', version: 2, position: P });
        // The builder finds its shadow promoted, and stops by itself.
        await until(async () => builder.child.exitCode !== null, 'the builder stops', 30_000);
      } finally {
        stopChild(builder.child);
      }
      expect((await builder.exited).code, builder.output().stderr).toBe(0);
      expect(builder.output().stderr).toMatch(/the shadow was promoted by another process/);
      const after = await expectExact(ws, 2, 'after the promote');
      expect(after.seen.every((s) => s.replaying === 1)).toBe(true);
      // The builder wrote nothing after the promote.
      const [last] = await ws.rows(`SELECT type FROM ${ws.events} WHERE stream_id = '$shadow-totals' ORDER BY version DESC LIMIT 1`);
      expect(last?.type).toBe('ShadowPromoted');
      expect((await statusOf(ws, 'totals', 2)).shadow).toBeNull();
    },
    60_000,
  );

  it.sequential(
    'events appended while promote runs are applied exactly once, and replaying is true up to the promoted position only',
    async () => {
      const ws = await workspace(kind, EVENTS / 2);
      ok(await ws.es(['project', 'run', 'totals'], 1), 'run V=1');
      // Two deployments follow the store: the old code, and the new one already waiting for its promotion.
      const live = esBackground(ws.dir, ['project', 'run', 'totals', '--follow'], { V: '1' });
      const next = esBackground(ws.dir, ['project', 'run', 'totals', '--follow'], { V: '2' });
      const said = (run: typeof live) => `${run.output().stdout}${run.output().stderr}`;
      const appender = startAppender(ws);
      const before = (await liveCheckpoint(ws)).position;
      try {
        await appender.until(20);
        // The old version runs the live projection (once the new one has let it go, should it have taken it first).
        await until(async () => (await liveCheckpoint(ws)).position > before, 'the old version handles appended events');
        ok(await ws.es(['project', 'rebuild', 'totals', '--shadow'], 2), 'rebuild --shadow');
        await sleep(200);
        // Nothing of version 2 is live before the promote.
        expect(await ws.rows('SELECT event_id FROM totals_seen WHERE v = 2')).toEqual([]);
        const promoted = ok(await ws.es(['project', 'promote', 'totals', '--json'], 2), 'promote');
        const result = parseJson(promoted.stdout).projections[0];
        expect(result).toMatchObject({ name: 'totals', version: 2 });
        const P = result.position as number;
        // The appender goes on after the promote.
        await appender.until(20, P);
        const appended = await appender.stop();
        // The new version takes the projection up without a restart (the old one, should it get the
        // projection first, stands down for it).
        const head = await headOf(ws);
        await until(async () => (await liveCheckpoint(ws)).position >= head, 'the new version reaches the head', 60_000);
        stopChild(live.child);
        stopChild(next.child);
        expect((await live.exited).code, said(live)).toBe(0);
        expect((await next.exited).code, said(next)).toBe(0);

        const mine = (await addedEvents(ws)).filter((e) => e.id.startsWith('a-'));
        expect(mine.length).toBe(appended);
        // The appender went on across the promote: events on both sides of the promoted position.
        expect(mine.some((e) => e.position <= P)).toBe(true);
        expect(mine.some((e) => e.position > P)).toBe(true);
        const end = await expectExact(ws, 2, 'after the promote and a run to the head');
        expect((await liveCheckpoint(ws)).position).toBe(head);
        // (On PostgreSQL positions are drawn before commit; one appender, one transaction at a time,
        // commits them in order, so "after P" in commit order is "above P" here.)
        expect(end.seen.filter((s) => (s.replaying === 1) !== s.position <= P)).toEqual([]);
      } finally {
        stopChild(appender.child);
        stopChild(live.child);
        stopChild(next.child);
      }
    },
    90_000,
  );

  it.sequential(
    'kill -9 of rebuild --shadow and of promote at random instants: the read model ends exact, readers see old or new',
    async () => {
      const seed = seedFrom('ES_SHADOW_KILL_SEED', `shadow kills on ${kind.label}`);
      const random = streams(seed, ['build', 'promote']);
      const ws = await workspace(kind, KILL_EVENTS);
      ok(await ws.es(['project', 'run', 'totals'], 1), 'run V=1');
      let next = KILL_EVENTS;
      const log: string[] = [];
      const replay = () => `ES_SHADOW_KILL_SEED=${seed}: ${log.join(' | ')}`;

      // How long an uninterrupted build takes, then a dropped shadow.
      let started = performance.now();
      ok(await ws.es(['project', 'rebuild', 'totals', '--shadow', '--batch-size', KILL_BATCH], 2), 'rebuild --shadow');
      const buildMs = performance.now() - started;
      ok(await ws.es(['project', 'drop-shadow', 'totals'], 2), 'drop-shadow');
      for (let i = 0; i < 3; i++) {
        const ms = Math.round(random.build() * buildMs * 1.1);
        const end = await killAfter(ws, ['project', 'rebuild', 'totals', '--shadow', '--batch-size', KILL_BATCH], 2, ms);
        log.push(`build killed after ${ms} ms: ${end.killed ? 'killed' : `exit ${end.code}`}`);
        expect(end.killed || end.code === 0, `${replay()}\n${end.stderr}`).toBe(true);
        if (i === 1) {
          // The live projection moves on between the kills.
          await appendEvents(ws, 50, next);
          next += 50;
          ok(await ws.es(['project', 'run', 'totals'], 1), 'run V=1');
        }
      }
      // A killed build resumes from the mark its last commit left in the shadow's database.
      const mark = await shadowMark(ws);
      const resumed = parseJson(ok(await ws.es(['project', 'rebuild', 'totals', '--shadow', '--batch-size', KILL_BATCH, '--json'], 2), replay()).stdout)
        .projections[0];
      log.push(`built from ${resumed.from}`);
      expect(resumed.from, replay()).toBe(mark);
      expect(resumed, replay()).toMatchObject({ to: (await liveCheckpoint(ws)).position, state: 'up-to-date', shadow: true });
      // The live projection moves on: the promote catches the shadow up first. This one, not killed, says how long a promote takes.
      const catchUp = CATCH_UP;
      await appendEvents(ws, catchUp, next);
      next += catchUp;
      ok(await ws.es(['project', 'run', 'totals'], 1), replay());
      started = performance.now();
      const first = parseJson(ok(await ws.es(['project', 'promote', 'totals', '--batch-size', KILL_BATCH, '--json'], 2), replay()).stdout).projections[0];
      const promoteMs = performance.now() - started;
      log.push(`promote took ${Math.round(promoteMs)} ms`);
      expect(first.caughtUp, replay()).toBe(catchUp - catchUp / 10);
      const promotedModel = await expectExact(ws, 2, replay());
      expect(
        promotedModel.seen.every((s) => s.replaying === 1),
        replay(),
      ).toBe(true);

      // Promotes killed at random instants, each to a new version; readers look all the time.
      let version = 2;
      for (let i = 0; i < 3; i++) {
        const target = version + 1;
        ok(await ws.es(['project', 'rebuild', 'totals', '--shadow'], target), replay());
        await appendEvents(ws, catchUp, next);
        next += catchUp;
        ok(await ws.es(['project', 'run', 'totals'], version), replay());
        const reader = startReader(ws);
        const ms = Math.round((0.3 + random.promote() * 0.8) * promoteMs);
        const end = await killAfter(ws, ['project', 'promote', 'totals', '--batch-size', KILL_BATCH], target, ms);
        let outcome = `promote to ${target} killed after ${ms} ms: ${end.killed ? 'killed' : `exit ${end.code}`}`;
        expect(end.killed || end.code === 0, `${replay()} | ${outcome}\n${end.stderr}`).toBe(true);
        await sleep(30);
        const reading = await reader.stop();
        const live = await liveCheckpoint(ws);
        outcome += ` (live version ${live.version})`;
        log.push(outcome);
        expect(reading.problems, replay()).toEqual([]);
        expect(reading.samples.length, replay()).toBeGreaterThan(0);
        expect([version, target], replay()).toContain(live.version);
        // At rest after the kill: exactly the old read model, or exactly the new one.
        await expectExact(ws, live.version, replay());
        // Then the next promote (even rounds) or run (odd rounds) finishes the job.
        if (i % 2 === 0) {
          const again = await ws.es(['project', 'promote', 'totals'], target);
          expect(again.code, `${replay()}\n${again.stderr}`).toBe(live.version === target ? 2 : 0);
        } else {
          const run = await ws.es(['project', 'run', 'totals', '--json'], target);
          ok(run, replay());
          const state = parseJson(run.stdout).projections[0].state;
          expect(state, replay()).toBe(live.version === target ? 'up-to-date' : 'awaiting-promotion');
          if (live.version !== target) {
            await expectExact(ws, version, `${replay()}: a run of the new version before its promote changes nothing`);
            ok(await ws.es(['project', 'promote', 'totals'], target), replay());
          }
        }
        await expectExact(ws, target, replay());
        // The shadow is gone: its stream says it was promoted.
        const [last] = await ws.rows(`SELECT type FROM ${ws.events} WHERE stream_id = '$shadow-totals' ORDER BY version DESC LIMIT 1`);
        expect(last?.type, replay()).toBe('ShadowPromoted');
        version = target;
      }
      const row = await statusOf(ws, 'totals', version);
      expect(row).toMatchObject({ version, state: 'up-to-date', shadow: null });
      console.error(`shadow kills on ${kind.label}: ${replay()}`);
    },
    150_000,
  );

  if (kind.name === 'postgres') {
    it.sequential(
      'a promote whose swap waits for a reader: killed -9 there, it is rolled back; not killed, it waits longer than its lock timeout and finishes',
      async () => {
        const ws = await workspace(kind, 300);
        ok(await ws.es(['project', 'run', 'totals'], 1), 'run V=1');
        ok(await ws.es(['project', 'rebuild', 'totals', '--shadow'], 2), 'rebuild --shadow');
        const holder = new pg.Client({ connectionString: ws.url });
        await holder.connect();
        const watcher = new pg.Client({ connectionString: ws.url });
        await watcher.connect();
        try {
          // A reader in the middle of a transaction on the live table: the swap must wait for it.
          await holder.query('BEGIN');
          await holder.query('SELECT count(*) FROM totals');
          const promote = esBackground(ws.dir, ['project', 'promote', 'totals'], { V: '2' });
          const waitingSql = `SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND relation = 'public.totals'::regclass`;
          const deadline = Date.now() + 20_000;
          while ((await watcher.query(waitingSql)).rows[0].n === 0) {
            if (Date.now() > deadline || promote.child.exitCode !== null)
              throw new Error(`the promote never waited for the reader: ${promote.output().stderr}`);
            await sleep(20);
          }
          promote.child.kill('SIGKILL');
          await promote.exited;
          await holder.query('COMMIT');
          // The swap's transaction died with it: the old read model, the shadow still there.
          const deadlineGone = Date.now() + 10_000;
          while (
            (await watcher.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'es'`)).rows[0].n >
            0
          ) {
            if (Date.now() > deadlineGone) break;
            await sleep(50);
          }
          expect((await liveCheckpoint(ws)).version).toBe(1);
          await expectExact(ws, 1, 'after the killed swap');
          expect(await ws.copyExists('shadow', 'totals')).toBe(true);
          expect((await statusOf(ws, 'totals', 2)).shadow).toMatchObject({ version: 2, state: 'up-to-date' });

          // The next promote, held up by a reader for longer than the swap's lock timeout (5 s), tries
          // again and finishes once the reader is done.
          await holder.query('BEGIN');
          await holder.query('SELECT count(*) FROM totals');
          const again = ws.es(['project', 'promote', 'totals', '--json'], 2);
          await sleep(7000);
          await holder.query('COMMIT');
          const promoted = await again;
          expect(promoted.code, promoted.stderr).toBe(0);
          expect(parseJson(promoted.stdout).projections[0].durationMs).toBeGreaterThan(5000);
        } finally {
          await holder.end().catch(() => {});
          await watcher.end().catch(() => {});
        }
        await expectExact(ws, 2, 'after the second promote');
      },
      60_000,
    );
  }

  it.sequential(
    'verify: identical, then each hand-made difference named; a handler that reads the clock differs; --keep leaves a shadow promote takes',
    async () => {
      const ws = await workspace(kind, 600, { clocked: true, pure: true });
      ok(await ws.es(['project', 'run', 'totals', 'clocked'], 1), 'run');
      const before = (await liveCheckpoint(ws)).position;

      // Verified while the live projection runs and events are appended: compared at one live position.
      const live = esBackground(ws.dir, ['project', 'run', 'totals', '--follow'], { V: '1', PURE: '1' });
      const appender = startAppender(ws);
      let same: EsResult;
      try {
        await appender.until(20);
        await until(async () => (await liveCheckpoint(ws)).position > before, 'the live projection handles appended events');
        same = await ws.es(['project', 'verify', 'totals', '--json'], 1);
      } finally {
        stopChild(appender.child);
        stopChild(live.child);
      }
      await appender.stop();
      expect((await live.exited).code, live.output().stderr).toBe(0);
      expect(same.code, same.stderr).toBe(0);
      const sameDoc = parseJson(same.stdout).projections[0];
      expect(sameDoc).toMatchObject({ name: 'totals', identical: true });
      expect(sameDoc.position).toBeGreaterThan(before);
      await runToHead(ws, 1);
      const P = (await liveCheckpoint(ws)).position;
      expect(
        sameDoc.tables.map((t: { name: string; onlyLive: number; onlyRebuilt: number; different: number }) => [t.name, t.onlyLive, t.onlyRebuilt, t.different]),
      ).toEqual([
        ['totals', 0, 0, 0],
        ['totals_seen', 0, 0, 0],
      ]);
      expect(await ws.copyExists('verify', 'totals')).toBe(false);
      expect(await ws.copyExists('shadow', 'totals')).toBe(false);

      const [s1] = await ws.rows(`SELECT n, c, v FROM totals WHERE stream = 's-1'`);
      const [s2] = await ws.rows(`SELECT n, c, v FROM totals WHERE stream = 's-2'`);
      await ws.exec(`DELETE FROM totals WHERE stream = 's-1'`);
      await ws.exec(`INSERT INTO totals (stream, n, c, v) VALUES ('made-by-hand', 5, 1, 1)`);
      await ws.exec(`UPDATE totals SET n = n + 1000 WHERE stream = 's-2'`);
      // Both at once: the hand-made differences in totals, and a handler that reads the clock.
      const differs = await ws.es(['project', 'verify', 'totals', 'clocked', '--json'], 1);
      expect(differs.code, differs.stderr).toBe(1);
      const [doc, clocked] = parseJson(differs.stdout).projections;
      expect(doc).toMatchObject({ name: 'totals', position: P, identical: false });
      const totals = doc.tables.find((t: { name: string }) => t.name === 'totals');
      expect(totals).toMatchObject({ onlyLive: 1, onlyRebuilt: 1, different: 1 });
      const plain = (r: Record<string, unknown> | null) =>
        r === null ? null : Object.fromEntries(Object.entries(r).map(([k, v]) => [k, k === 'stream' ? v : Number(v)]));
      const examples = totals.examples.map(
        (e: { kind: string; key: Record<string, unknown>; live: Record<string, unknown> | null; rebuilt: Record<string, unknown> | null }) => ({
          kind: e.kind,
          key: e.key,
          live: plain(e.live),
          rebuilt: plain(e.rebuilt),
        }),
      );
      const num = (r: Record<string, unknown> | undefined) => ({ n: Number(r?.n), c: Number(r?.c), v: Number(r?.v) });
      expect(examples).toEqual(
        expect.arrayContaining([
          { kind: 'onlyRebuilt', key: { stream: 's-1' }, live: null, rebuilt: { stream: 's-1', ...num(s1) } },
          { kind: 'onlyLive', key: { stream: 'made-by-hand' }, live: { stream: 'made-by-hand', n: 5, c: 1, v: 1 }, rebuilt: null },
          { kind: 'different', key: { stream: 's-2' }, live: { stream: 's-2', ...num(s2), n: num(s2).n + 1000 }, rebuilt: { stream: 's-2', ...num(s2) } },
        ]),
      );
      expect(examples).toHaveLength(3);
      expect(doc.tables.find((t: { name: string }) => t.name === 'totals_seen')).toMatchObject({ onlyLive: 0, onlyRebuilt: 0, different: 0 });

      expect(clocked).toMatchObject({ name: 'clocked', position: before, identical: false });
      expect(clocked.tables).toHaveLength(1);
      expect(clocked.tables[0]).toMatchObject({ name: 'clocked', onlyLive: 0, onlyRebuilt: 0, different: STREAMS });

      // --keep: the rebuilt copy becomes the shadow, and promoting it repairs the hand-made damage.
      const kept = await ws.es(['project', 'verify', 'totals', '--keep', '--json'], 1);
      expect(kept.code, kept.stderr).toBe(1);
      expect(parseJson(kept.stdout).projections[0]).toMatchObject({ kept: true, identical: false });
      expect(await ws.copyExists('shadow', 'totals')).toBe(true);
      expect(await ws.copyExists('verify', 'totals')).toBe(false);
      expect((await statusOf(ws, 'totals', 1)).shadow).toEqual({ version: 1, position: P, lag: 0, state: 'up-to-date' });
      const promoted = await ws.es(['project', 'promote', 'totals', '--json'], 1);
      expect(promoted.code, promoted.stderr).toBe(0);
      expect(parseJson(promoted.stdout).projections[0]).toMatchObject({ name: 'totals', version: 1, position: P, caughtUp: 0 });
      await expectExact(ws, 1, 'after promoting the kept copy');
    },
    90_000,
  );

  it.sequential(
    'the CLI contract: no tables, no shadow, --max-lag, status and metrics, drop-shadow, awaiting-promotion and superseded',
    async () => {
      const ws = await workspace(kind, 500, { plain: true });

      for (const args of [
        ['rebuild', 'plain', '--shadow'],
        ['promote', 'plain'],
        ['verify', 'plain'],
        ['drop-shadow', 'plain'],
      ]) {
        const r = await ws.es(['project', ...args], 1);
        expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
        expect(r.stderr).toMatch(/\bplain\b(?!\.mjs)/);
        expect(r.stderr).toMatch(/tables/);
      }

      ok(await ws.es(['project', 'run', 'totals', 'plain'], 1), 'run V=1');
      const noShadow = await ws.es(['project', 'promote', 'totals'], 2);
      expect(noShadow.code, noShadow.stderr).toBe(2);
      expect(noShadow.stderr).toMatch(/totals has no shadow/);
      expect((await statusOf(ws, 'totals', 1)).shadow).toBeNull();

      // --follow: the shadow keeps up with the live projection, and never goes past it.
      let P = (await liveCheckpoint(ws)).position;
      const follower = esBackground(ws.dir, ['project', 'rebuild', 'totals', '--shadow', '--follow'], { V: '2' });
      try {
        const reaches = async (position: number) => {
          const deadline = Date.now() + 30_000;
          while ((await shadowMark(ws)) !== position) {
            if (Date.now() > deadline || follower.child.exitCode !== null) throw new Error(`the shadow did not reach ${position}: ${follower.output().stderr}`);
            await sleep(50);
          }
        };
        await reaches(P);
        expect(await ws.copyExists('shadow', 'totals')).toBe(true);
        // A second builder of the same shadow leaves it alone.
        const second = await ws.es(['project', 'rebuild', 'totals', '--shadow'], 2);
        expect(second.code, second.stderr).toBe(75);
        expect(second.stderr).toMatch(/shadow of totals is being built/);
        // Events the live projection has not handled yet: the shadow waits for it.
        await appendEvents(ws, 20, 500);
        await sleep(1500);
        expect(await shadowMark(ws)).toBe(P);
        ok(await ws.es(['project', 'run', 'totals'], 1), 'run V=1');
        P = (await liveCheckpoint(ws)).position;
        await reaches(P);
      } finally {
        stopChild(follower.child);
      }
      const followed = await follower.exited;
      expect(followed.code, follower.output().stderr).toBe(0);

      // The live projection moves on: the shadow is 18 `Added` events behind it.
      await appendEvents(ws, 20, 520);
      ok(await ws.es(['project', 'run', 'totals'], 1), 'run V=1');
      const row = await statusOf(ws, 'totals', 2);
      expect(row.shadow).toEqual({ version: 2, position: P, lag: 18, state: 'behind' });
      // (Exit 1: with the file's version 2 the live version 1 is stale here.)
      const metrics = (await ws.es(['project', 'status', 'totals', '--format', 'prometheus'], 2)).stdout;
      const position = metrics.split('\n').find((l) => l.startsWith('es_projection_shadow_position{'));
      expect(position).toMatch(/projection="totals"/);
      expect(position).toMatch(/version="2"/);
      expect(Number(position?.split(' ').at(-1))).toBe(P);
      const lag = metrics.split('\n').find((l) => l.startsWith('es_projection_shadow_lag_events{'));
      expect(lag).toMatch(/projection="totals"/);
      expect(Number(lag?.split(' ').at(-1))).toBe(18);

      const tooFar = await ws.es(['project', 'promote', 'totals', '--max-lag', '0', '--json'], 2);
      expect(tooFar.code, tooFar.stderr).toBe(1);
      expect(tooFar.stderr).toMatch(/max-lag/);
      expect(parseJson(tooFar.stdout)).toEqual({ projections: [] });
      expect((await liveCheckpoint(ws)).version).toBe(1);
      await expectExact(ws, 1, 'after a refused promote');

      // A runner of the new version before the promote: not a fault, and it changes nothing.
      const waiting = await ws.es(['project', 'run', 'totals', '--json'], 2);
      expect(waiting.code, waiting.stderr).toBe(0);
      expect(parseJson(waiting.stdout).projections[0]).toMatchObject({ name: 'totals', state: 'awaiting-promotion', processed: 0 });
      await expectExact(ws, 1, 'after a run of the new version');
      // Without tables a new version is stale, as before: exit 1, a rebuild is what it needs.
      const stale = await ws.es(['project', 'run', 'plain', '--json'], 2);
      expect(stale.code, stale.stderr).toBe(1);
      expect(parseJson(stale.stdout).projections[0]).toMatchObject({ name: 'plain', state: 'stale-version', processed: 0 });

      const dropped = await ws.es(['project', 'drop-shadow', 'totals'], 2);
      expect(dropped.code, dropped.stderr).toBe(0);
      expect((await statusOf(ws, 'totals', 2)).shadow).toBeNull();
      expect(await ws.copyExists('shadow', 'totals')).toBe(false);

      ok(await ws.es(['project', 'rebuild', 'totals', '--shadow'], 2), 'rebuild --shadow again');
      const promoted = await ws.es(['project', 'promote', 'totals', '--json'], 2);
      expect(promoted.code, promoted.stderr).toBe(0);
      const doc = parseJson(promoted.stdout);
      expect(Object.keys(doc.projections[0]).sort()).toEqual(['caughtUp', 'durationMs', 'name', 'position', 'version']);
      expect(doc.projections[0]).toMatchObject({ name: 'totals', version: 2, position: (await liveCheckpoint(ws)).position, caughtUp: 0 });
      await expectExact(ws, 2, 'after the promote');

      // A runner of the old version after the promote stands down: not a fault, and it changes nothing.
      await appendEvents(ws, 10, 540);
      const old = await ws.es(['project', 'run', 'totals', '--json'], 1);
      expect(old.code, old.stderr).toBe(0);
      expect(parseJson(old.stdout).projections[0]).toMatchObject({ name: 'totals', state: 'superseded', processed: 0 });
      await expectExact(ws, 2, 'after a run of the old version');
      await runToHead(ws, 2);
      await expectExact(ws, 2, 'after a run of the new version');
      expect((await liveCheckpoint(ws)).position).toBe(await headOf(ws));
    },
    90_000,
  );
});
