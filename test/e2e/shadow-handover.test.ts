/**
 * A promote with old-code and new-code workers side by side (CONTRACT "Rebuild beside the live read
 * model", "Many workers", "Publishing to a message broker"). One projection file whose version comes
 * from the environment (V=1 is the old code, V=2 the new), on a SQLite file and on a PostgreSQL
 * database of its own, with the CLI spawned as processes:
 *
 *   a V=2 `run --follow` worker (awaiting-promotion), then two V=1 workers, an appender process
 *   appending throughout; the shadow built with V=2 `rebuild --shadow` (with --follow for the
 *   ledger, without for the publishers); V=2 `promote`; more appends; then the V=2 worker stopped
 *   and the V=1 workers given the projection back, which they must leave alone (superseded).
 *
 * Then: the read model is the new version's and exact (one row per event, by primary key), the V=2
 * worker took the projection up after the promote without a restart, the checkpoint ends at version
 * 2; side effects (handlers with context.replaying false: a table outside `tables`, in the batch's
 * transaction, and a file outside any transaction) happened once per event, by V=1 up to the
 * promoted position P and by V=2 after it, never by the shadow; a publishing projection that
 * declares its tables put each event on the broker once (NATS JetStream with the shortest duplicate
 * window it allows, RabbitMQ's queue with none).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/drivers/open-store.js';
import type { EventStore } from '../../src/ports/event-store.js';
import { AMQP_URL, NATS_URL, jetStreamFor, rabbitFor, reportNotRun, storeKinds, type Received, type StoreKind } from '../support/backends.js';
import { pgServerUrl } from '../support/pg.js';
import { ES_BIN, baseEnv, cleanupTempDirs, es, parseJson, readAll, tempDir, writeFile, type StoredEventJson } from './helpers.js';
import { sleep, until } from './workers-support.js';

const DIST_INDEX = fileURLToPath(new URL('../../dist/index.js', import.meta.url));
/** Events in the log before anything starts: the shadow has a backlog to build. */
const BACKLOG = 300;

// ---------------------------------------------------------------------------------------------
// Processes

interface Line {
  at: number;
  text: string;
}

interface Proc {
  role: string;
  child: ChildProcess;
  /** stdout and stderr, line by line, as they came. */
  lines: Line[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  text(): string;
  /** When a line matching `re` came first (Date.now()), or null. */
  saidAt(re: RegExp, after?: number): number | null;
}

const running: Proc[] = [];

afterAll(() => {
  for (const p of running) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  cleanupTempDirs();
});

/** `node <args…>` in `dir`, its output kept line by line; ROLE names it to the projection code. */
function start(dir: string, role: string, args: string[], env: Record<string, string>): Proc {
  const child = spawn(process.execPath, args, { cwd: dir, env: baseEnv({ ...env, ROLE: role }), stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Line[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream?.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const text of parts) lines.push({ at: Date.now(), text });
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const proc: Proc = {
    role,
    child,
    lines,
    exited,
    text: () => lines.map((l) => l.text).join('\n'),
    saidAt: (re, after = 0) => lines.find((l) => l.at >= after && re.test(l.text))?.at ?? null,
  };
  running.push(proc);
  return proc;
}

/** `es project run --follow` with the projection files at `V` (env: V and the rest). */
const worker = (dir: string, role: string, env: Record<string, string>) => start(dir, role, [ES_BIN, 'project', 'run', '--follow', '--lease', '5s'], env);

async function stop(p: Proc): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 20_000);
  try {
    return await p.exited;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The appender: a process of its own that appends `Added` events with `data.n` counting on from
 * FROM, a few every EVERY ms, until SIGTERM; then it prints the last n.
 */
const APPENDER = `import { openStore } from ${JSON.stringify(DIST_INDEX)};
const store = await openStore(process.env.DB);
let n = Number(process.env.FROM);
let stopping = false;
process.on('SIGTERM', () => { stopping = true; });
while (!stopping) {
  const events = [];
  for (let i = 0; i < 3; i++) { n += 1; events.push({ streamId: 'acct-' + (n % 5), type: 'Added', data: { n } }); }
  await store.appendMany(events);
  await new Promise((resolve) => setTimeout(resolve, Number(process.env.EVERY)));
}
await store.close();
process.stdout.write(String(n) + '\\n');
`;

// ---------------------------------------------------------------------------------------------
// Where the store and its read model live

interface Place {
  url: string;
  /** Rows of a query on the read model (the store's own database). */
  rows<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  close(): Promise<void>;
}

/** A SQLite file, or a PostgreSQL database of its own (the handlers' unqualified tables land in its `public`). */
async function placeFor(kind: StoreKind, dir: string): Promise<Place> {
  if (kind.name === 'sqlite') {
    const path = join(dir, 'events.db');
    return {
      url: `sqlite:${path}`,
      rows: async <T>(sql: string) => {
        const db = new Database(path, { readonly: true, fileMustExist: true });
        try {
          return db.prepare(sql).all() as T[];
        } finally {
          db.close();
        }
      },
      close: async () => {},
    };
  }
  const server = pgServerUrl();
  const database = `es_handover_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  await admin.end();
  const url = new URL(server);
  url.pathname = `/${database}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
  return {
    url: url.toString(),
    rows: async <T>(sql: string) => (await pool.query(sql)).rows as T[],
    close: async () => {
      await pool.end();
      const drop = new pg.Client({ connectionString: server });
      await drop.connect();
      try {
        await drop.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      } finally {
        await drop.end();
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The projection files: one file, its version from V

/** SQL statements as a handler runs them: synchronous better-sqlite3 calls, or awaited node-postgres ones. */
function sqlOf(kind: StoreKind) {
  const sync = kind.synchronous;
  return {
    fn: sync ? '' : 'async ',
    exec: (sql: string) => (sync ? `db.exec(${JSON.stringify(sql)});` : `await db.query(${JSON.stringify(sql)});`),
    run: (sql: string, params: string) => {
      let i = 0;
      const text = sync ? sql : sql.replace(/\?/g, () => `$${++i}`);
      return sync ? `db.prepare(${JSON.stringify(text)}).run(${params});` : `await db.query(${JSON.stringify(text)}, [${params}]);`;
    },
  };
}

/**
 * The ledger: `ledger_rows` (its declared table) takes one row per event under the event id, with
 * what the version computes (n × version); when the event is not a replay, its side effects: a row
 * in `ledger_effects` (not in `tables`: the live database's, in the batch's transaction) and a line
 * in the file EFFECTS (outside any transaction), each saying which version and process did it.
 */
function ledgerSource(kind: StoreKind): string {
  const s = sqlOf(kind);
  return `import { appendFileSync } from 'node:fs';
const V = Number(process.env.V ?? 1);
export default {
  name: 'ledger',
  version: V,
  tables: ['ledger_rows'],
  events: ['Added'],
  ${s.fn}setup(db) {
    ${s.exec('CREATE TABLE IF NOT EXISTS ledger_rows (event_id TEXT PRIMARY KEY, position BIGINT NOT NULL, amount BIGINT NOT NULL, version INTEGER NOT NULL, pid INTEGER NOT NULL)')}
    ${s.exec('CREATE TABLE IF NOT EXISTS ledger_effects (position BIGINT NOT NULL, version INTEGER NOT NULL, pid INTEGER NOT NULL)')}
  },
  ${s.fn}reset(db) {
    ${s.exec('DELETE FROM ledger_rows')}
  },
  handlers: {
    ${s.fn}Added(event, db, context) {
      ${s.run('INSERT INTO ledger_rows (event_id, position, amount, version, pid) VALUES (?, ?, ?, ?, ?)', 'event.id, event.position, event.data.n * V, V, process.pid')}
      if (context.replaying) return;
      ${s.run('INSERT INTO ledger_effects (position, version, pid) VALUES (?, ?, ?)', 'event.position, V, process.pid')}
      appendFileSync(process.env.EFFECTS, event.position + ' ' + V + ' ' + process.env.ROLE + ' ' + process.pid + '\\n');
    },
  },
};
`;
}

/** A publishing projection that declares a table too: one row per event under its id. */
function outboxSource(kind: StoreKind, name: string, table: string, publish: Record<string, string>): string {
  const s = sqlOf(kind);
  return `const V = Number(process.env.V ?? 1);
export default {
  name: ${JSON.stringify(name)},
  version: V,
  tables: [${JSON.stringify(table)}],
  events: ['Added'],
  publish: ${JSON.stringify(publish)},
  ${s.fn}setup(db) {
    ${s.exec(`CREATE TABLE IF NOT EXISTS ${table} (event_id TEXT PRIMARY KEY, position BIGINT NOT NULL, version INTEGER NOT NULL, pid INTEGER NOT NULL)`)}
  },
  ${s.fn}reset(db) {
    ${s.exec(`DELETE FROM ${table}`)}
  },
  handlers: {
    ${s.fn}Added(event, db) {
      ${s.run(`INSERT INTO ${table} (event_id, position, version, pid) VALUES (?, ?, ?, ?)`, 'event.id, event.position, V, process.pid')}
    },
  },
};
`;
}

// ---------------------------------------------------------------------------------------------
// The hand-over, from start to end

interface Spec {
  /** Projection name → its table (with the columns event_id, position, version, pid). */
  tables: Record<string, string>;
  /** Writes the projection files into `dir`. */
  write(dir: string): void;
  /** Build the shadow with `--follow` in the background (else: `rebuild --shadow` to the live position, then promote). */
  followShadow: boolean;
}

interface ShadowStatus {
  projections: { name: string; shadow: { version: number; position: number; lag: number; state: string } | null }[];
  built?: { projections: { name: string; shadow: boolean }[] };
}

interface Handover {
  dir: string;
  place: Place;
  names: string[];
  /** Every event of the log at the end. */
  events: StoredEventJson[];
  /** The promoted position of each projection. */
  promoted: Map<string, number>;
  /** When the promote command returned (Date.now()). */
  promotedAt: number;
  promoteJson: { projections: { name: string; version: number; position: number; caughtUp: number }[] };
  w2: Proc;
  w1: Proc[];
  shadow: Proc | null;
  /** `status --json` (V=2) with the shadow built, before the promote; `built`: `rebuild --shadow --json` without --follow. */
  shadowStatus: ShadowStatus;
  /** Checkpoint positions after the V=1 workers had the projections back (nothing for them to do). */
  standDown: { before: Map<string, number>; after: Map<string, number>; pendingAdded: number };
  finalRun: ReturnType<typeof es>;
  /** The data of the last event of each `$checkpoint-<name>`, at the end. */
  lastCheckpoint: Map<string, Record<string, unknown> | undefined>;
  /** `status --json` (V=2) at the end. */
  finalStatus: { projections: Record<string, unknown>[] };
  exits: Map<string, { code: number | null; signal: NodeJS.Signals | null }>;
  /** Rows of a projection's table, by event id. */
  table(name: string): Promise<Map<string, { position: number; version: number; pid: number; amount?: number }>>;
  effectsFile: string;
  /** What a process of this hand-over said, by role. */
  said(role: string): string;
}

const positionOf = async (store: EventStore<unknown>, stream: string): Promise<{ position: number; version: number | null }> => {
  const last = await store.lastEvent(stream);
  return { position: Number(last?.data.position ?? 0), version: last?.data.version === undefined ? null : Number(last.data.version) };
};

const heldBy = async (store: EventStore<unknown>, name: string): Promise<number | null> =>
  (await store.leases()).find((l) => l.name === name && l.live)?.owner.pid ?? null;

async function handover(kind: StoreKind, spec: Spec): Promise<Handover> {
  const firstProc = running.length;
  const dir = tempDir(`es-handover-${kind.name}-`);
  const place = await placeFor(kind, dir);
  const names = Object.keys(spec.tables);
  const effectsFile = join(dir, 'effects.txt');
  writeFile(dir, 'effects.txt', '');
  writeFile(dir, 'es.config.json', JSON.stringify({ db: place.url }));
  writeFile(dir, 'appender.mjs', APPENDER);
  spec.write(dir);
  const env = (version: number) => ({ V: String(version), EFFECTS: effectsFile });

  // The live read model at version 1, over a backlog.
  const backlog = Array.from({ length: BACKLOG }, (_, i) => JSON.stringify({ streamId: `acct-${(i + 1) % 5}`, type: 'Added', data: { n: i + 1 } }));
  const imported = es(dir, ['import', '-', '--format', 'ndjson'], { input: `${backlog.join('\n')}\n` });
  expect(imported.code, imported.stderr).toBe(0);
  const first = es(dir, ['project', 'run'], { env: { ...env(1), ROLE: 'first-run' } });
  expect(first.code, first.stderr + first.stdout).toBe(0);

  const store = await openStore(place.url);
  const exits = new Map<string, { code: number | null; signal: NodeJS.Signals | null }>();
  try {
    const appender = start(dir, 'appender', [join(dir, 'appender.mjs')], { DB: place.url, FROM: String(BACKLOG), EVERY: '40' });

    // The new code deployed first: it finds version 1 live, says it awaits a promotion, and runs nothing.
    const w2 = worker(dir, 'w2', env(2));
    for (const name of names) {
      await until(`w2 to say ${name} awaits a promotion`, async () => w2.saidAt(new RegExp(`${name}\\s+awaiting-promotion`)) !== null, 20_000);
    }
    // Then the old code, twice: they run the live projection.
    const w1 = [worker(dir, 'w1a', env(1)), worker(dir, 'w1b', env(1))];
    for (const name of names) {
      await until(`a V=1 worker to move ${name} on`, async () => (await positionOf(store, `$checkpoint-${name}`)).position > BACKLOG + 30, 30_000);
    }

    // The shadow, with the new code.
    let shadow: Proc | null = null;
    let shadowStatus: ShadowStatus;
    if (spec.followShadow) {
      shadow = start(dir, 'shadow', [ES_BIN, 'project', 'rebuild', ...names, '--shadow', '--follow'], env(2));
      for (const name of names) {
        await until(
          `the shadow of ${name} to build through the backlog`,
          async () => (await positionOf(store, `$shadow-${name}`)).position > BACKLOG + 30,
          60_000,
        );
      }
      shadowStatus = parseJson(es(dir, ['project', 'status', '--json'], { env: env(2) }).stdout);
    } else {
      const built = es(dir, ['project', 'rebuild', ...names, '--shadow', '--json'], { env: { ...env(2), ROLE: 'shadow' } });
      expect(built.code, built.stderr).toBe(0);
      shadowStatus = parseJson(es(dir, ['project', 'status', '--json'], { env: env(2) }).stdout);
      shadowStatus.built = parseJson(built.stdout);
    }

    // The promote, while the appender appends and a V=1 worker runs each projection.
    const promote = es(dir, ['project', 'promote', ...names, '--json'], { env: { ...env(2), ROLE: 'promote' } });
    const promotedAt = Date.now();
    expect(promote.code, promote.stderr).toBe(0);
    const promoteJson = parseJson(promote.stdout);
    const promoted = new Map<string, number>(promoteJson.projections.map((p: { name: string; position: number }) => [p.name, p.position]));
    // The shadow's builder finds its shadow promoted, and stops by itself.
    if (shadow) {
      const building = shadow;
      await until('the shadow builder to stop by itself', async () => building.child.exitCode !== null || building.child.signalCode !== null, 15_000);
      exits.set('shadow', await building.exited);
    }

    // The V=2 worker takes each projection up (it was let go, and retried), and goes on while events come.
    for (const name of names) {
      await until(
        `w2 to take ${name} up and move it on`,
        async () => (await positionOf(store, `$checkpoint-${name}`)).position > (promoted.get(name) ?? 0) && (await heldBy(store, name)) === w2.child.pid,
        30_000,
      );
    }
    await sleep(1500);
    exits.set('appender', await stop(appender));
    const head = await store.head();
    for (const name of names) {
      await until(`${name} to reach the head`, async () => (await positionOf(store, `$checkpoint-${name}`)).position >= head, 60_000);
    }

    // The V=2 worker stops: the V=1 workers get each projection back, and must leave it alone.
    exits.set('w2', await stop(w2));
    const before = new Map<string, number>();
    for (const name of names) before.set(name, (await positionOf(store, `$checkpoint-${name}`)).position);
    const pendingAdded = 12;
    const lastN = Number(appender.text().trim().split('\n').pop());
    await store.appendMany(Array.from({ length: pendingAdded }, (_, i) => ({ streamId: 'acct-late', type: 'Added', data: { n: lastN + i + 1 } })));
    // Free now, each is taken by the V=1 workers that had not found it promoted yet; then each
    // looks again every 2 s: longer than that, nothing moves.
    for (const w of w1) {
      for (const name of names) {
        await until(`${w.role} to say ${name} is superseded`, async () => w.saidAt(new RegExp(`${name}\\s+superseded`)) !== null, 15_000);
      }
    }
    await sleep(2500);
    const after = new Map<string, number>();
    for (const name of names) after.set(name, (await positionOf(store, `$checkpoint-${name}`)).position);
    for (const w of w1) exits.set(w.role, await stop(w));

    // The new version finishes what was left (a cron run).
    const finalRun = es(dir, ['project', 'run', '--json'], { env: { ...env(2), ROLE: 'final-run' } });
    const events = readAll(dir);
    const lastCheckpoint = new Map<string, Record<string, unknown> | undefined>();
    for (const name of names) lastCheckpoint.set(name, (await store.lastEvent(`$checkpoint-${name}`))?.data);
    const finalStatus = parseJson(es(dir, ['project', 'status', '--json'], { env: env(2) }).stdout);
    return {
      dir,
      place,
      names,
      events,
      promoted,
      promotedAt,
      promoteJson,
      w2,
      w1,
      shadow,
      shadowStatus,
      standDown: { before, after, pendingAdded },
      finalRun,
      lastCheckpoint,
      finalStatus,
      exits,
      effectsFile,
      said: (role) =>
        running
          .slice(firstProc)
          .find((p) => p.role === role)
          ?.text() ?? '',
      async table(name) {
        const rows = await place.rows<{ event_id: string; position: number; version: number; pid: number; amount?: number }>(
          `SELECT * FROM ${spec.tables[name]}`,
        );
        return new Map(
          rows.map((r) => [
            r.event_id,
            {
              position: Number(r.position),
              version: Number(r.version),
              pid: Number(r.pid),
              ...(r.amount === undefined ? {} : { amount: Number(r.amount) }),
            },
          ]),
        );
      },
    };
  } catch (error) {
    // What each process said, to tell why.
    const said = running.slice(firstProc).map((p) => `--- ${p.role} (pid ${p.child.pid})\n${p.text()}`);
    const leases = await store.leases().catch(() => []);
    const checkpoints = await Promise.all(names.map((name) => store.lastEvent(`$checkpoint-${name}`).catch(() => undefined)));
    const state = `--- leases ${JSON.stringify(leases)}\n--- checkpoints ${JSON.stringify(checkpoints)}`;
    throw new Error(`${(error as Error).message}\n${said.join('\n')}\n${state}`, { cause: error });
  } finally {
    await store.close();
  }
}

/** The checks every hand-over passes: the read model exact and the new version's, the workers' parts, the checkpoint. */
async function checkHandover(h: Handover): Promise<void> {
  const added = h.events.filter((e) => e.type === 'Added');
  expect(added.length).toBeGreaterThan(BACKLOG + 100);
  for (const [role, exit] of h.exits) expect({ role, ...exit }, h.said(role)).toEqual({ role, code: 0, signal: null });
  expect(h.finalRun.code, h.finalRun.stderr).toBe(0);
  for (const row of parseJson(h.finalRun.stdout).projections) expect(row).toMatchObject({ state: 'up-to-date', processed: h.standDown.pendingAdded });

  for (const name of h.names) {
    const P = h.promoted.get(name) as number;
    const row = h.promoteJson.projections.find((p: { name: string }) => p.name === name);
    expect(row).toMatchObject({ name, version: 2, position: P });
    // Promoted while events streamed in: some before P, some after.
    expect(added.filter((e) => e.position <= P).length).toBeGreaterThan(BACKLOG);
    expect(added.filter((e) => e.position > P).length).toBeGreaterThan(30);

    // The read model: exactly one row per event (a second application would hit the primary key and
    // fault), every one the new version's (the shadow's up to P, the V=2 runner's after).
    const table = await h.table(name);
    expect(table.size).toBe(added.length);
    expect([...table.keys()].sort()).toEqual(added.map((e) => e.id).sort());
    expect(added.filter((e) => table.get(e.id)?.position !== e.position)).toEqual([]);
    expect([...table.values()].filter((r) => r.version !== 2)).toEqual([]);
    if ([...table.values()][0]?.amount !== undefined) {
      expect(added.filter((e) => table.get(e.id)?.amount !== Number(e.data.n) * 2).map((e) => e.position)).toEqual([]);
    }
    // After P up to the head the V=2 worker applied them, the one started before the promote: it
    // took the projection up without a restart. The late events (after it stopped) by the cron run.
    const late = added.slice(-h.standDown.pendingAdded);
    const w2Pid = h.w2.child.pid as number;
    const afterP = added.filter((e) => e.position > P && !late.includes(e));
    expect(afterP.filter((e) => table.get(e.id)?.pid !== w2Pid).map((e) => e.position)).toEqual([]);
    expect(late.filter((e) => table.get(e.id)?.pid === w2Pid)).toEqual([]);

    // Nothing up to P is the V=2 worker's: it said it awaited the promotion, before it.
    expect(added.filter((e) => e.position <= P && table.get(e.id)?.pid === w2Pid).map((e) => e.position)).toEqual([]);
    const awaited = h.w2.saidAt(new RegExp(`${name}\\s+awaiting-promotion`));
    expect(awaited, h.w2.text()).not.toBeNull();
    expect(awaited as number).toBeLessThan(h.promotedAt);
    // The V=1 worker that ran it when the promote came let it go when asked (its batch committed
    // with what it published), rather than being fenced out mid-batch.
    expect(h.w1.map((w) => w.text()).join('\n')).toMatch(new RegExp(`${name}: handed over to a promote or verify that asked for it`));
    // Each V=1 worker stood down, saying so, and moved nothing while it held the projection again.
    for (const w of h.w1) expect(w.text(), w.role).toMatch(new RegExp(`${name}\\s+superseded: version 2 was promoted`));
    expect(h.standDown.after.get(name)).toBe(h.standDown.before.get(name));
    // The shadow's builder (--follow) stopped by itself (exit 0, checked above), saying why.
    if (h.shadow) expect(h.said('shadow')).toMatch(new RegExp(`${name}: the shadow was promoted by another process; nothing more to build`));
    // The shadow showed in status before the promote, at version 2, and the live stream ends at version 2.
    const shadowRow = h.shadowStatus.projections.find((p: { name: string }) => p.name === name);
    expect(shadowRow?.shadow).toMatchObject({ version: 2 });
    expect(h.lastCheckpoint.get(name)).toMatchObject({ version: 2, position: h.events[h.events.length - 1]?.position });
    expect(h.finalStatus.projections.find((p) => p.name === name)).toMatchObject({ version: 2, state: 'up-to-date', lag: 0, shadow: null });
  }
}

// ---------------------------------------------------------------------------------------------

const brokers = [
  { name: 'nats', label: 'NATS JetStream', url: NATS_URL, variable: 'ES_TEST_NATS_URL' },
  { name: 'amqp', label: 'RabbitMQ', url: AMQP_URL, variable: 'ES_TEST_AMQP_URL' },
] as const;
for (const b of brokers) if (!b.url) reportNotRun(b.label, `${b.variable} is not set (.ci/run sets it when the broker answers)`, 'shadow-handover');

describe.each(storeKinds())('a promote with old and new workers side by side on %s', (kind) => {
  describe('the ledger: a read model with side effects', () => {
    let h: Handover;
    beforeAll(async () => {
      h = await handover(kind, {
        tables: { ledger: 'ledger_rows' },
        write: (dir) => writeFile(dir, 'projections/ledger.mjs', ledgerSource(kind)),
        followShadow: true,
      });
    }, 150_000);
    afterAll(async () => {
      await h?.place.close();
    });

    it('ends with the new version exact for every event, taken up by the waiting V=2 worker, the V=1 workers superseded, the checkpoint at version 2', async () => {
      await checkHandover(h);
    });

    it('has each side effect once: by V=1 up to the promoted position, by V=2 after it, never by the shadow', async () => {
      const added = h.events.filter((e) => e.type === 'Added');
      const P = h.promoted.get('ledger') as number;
      const positions = added.map((e) => e.position);
      // In the batch's transaction (a table the promote leaves as it is).
      const effects = await h.place.rows<{ position: number; version: number; pid: number }>('SELECT position, version, pid FROM ledger_effects');
      const count = new Map<number, number>();
      for (const e of effects) count.set(Number(e.position), (count.get(Number(e.position)) ?? 0) + 1);
      expect(positions.filter((p) => count.get(p) !== 1)).toEqual([]);
      expect(effects.length).toBe(added.length);
      expect(effects.filter((e) => Number(e.version) === 1 && Number(e.position) > P)).toEqual([]);
      expect(effects.filter((e) => Number(e.version) === 2 && Number(e.position) <= P)).toEqual([]);
      // Outside any transaction (a file): nothing from the processes that built the shadow or caught
      // it up, each event there, V=1 only up to P and V=2 only after it, none twice.
      const lines = readFileSync(h.effectsFile, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => {
          const [position, version, role, pid] = l.split(' ');
          return { position: Number(position), version: Number(version), role, pid: Number(pid) };
        });
      expect(lines.filter((l) => l.role === 'shadow' || l.role === 'promote')).toEqual([]);
      const seen = new Map<number, number>();
      for (const l of lines) seen.set(l.position, (seen.get(l.position) ?? 0) + 1);
      expect(positions.filter((p) => !seen.has(p))).toEqual([]);
      expect(lines.filter((l) => (l.version === 1 && l.position > P) || (l.version === 2 && l.position <= P))).toEqual([]);
      expect([...seen].filter(([, n]) => n > 1)).toEqual([]);
    });
  });

  const available = brokers.filter((b) => b.url);
  const brokersTitle =
    available.length > 0
      ? available.map((b) => b.label).join(', ')
      : `did not run: ${brokers.map((b) => b.variable).join(' and ')} are not set (.ci/run sets them when the brokers answer)`;
  describe.skipIf(available.length === 0)(`publishing projections with tables (${brokersTitle})`, () => {
    let h: Handover;
    const rigs: { name: string; label: string; messages(): Promise<Received[]>; drop(): Promise<void> }[] = [];
    beforeAll(async () => {
      const files: [string, string][] = [];
      const tables: Record<string, string> = {};
      for (const b of available) {
        const name = `outbox-${b.name}`;
        const table = `outbox_${b.name}_sent`;
        tables[name] = table;
        if (b.name === 'nats') {
          // Its own stream; duplicates are kept apart only within 100 ms, the least JetStream allows.
          const subject = `estest${randomBytes(4).toString('hex')}`;
          const stream = await jetStreamFor(b.url as string, [`${subject}.>`], { duplicate_window: 100_000_000 });
          rigs.push({ name, label: b.label, messages: () => stream.messages(), drop: () => stream.drop() });
          const url = new URL(b.url as string);
          files.push([name, outboxSource(kind, name, table, { to: `nats://127.0.0.1:${url.port}`, subject: `${subject}.{type}` })]);
        } else {
          const rabbit = await rabbitFor(b.url as string);
          const received: Received[] = [];
          rigs.push({
            name,
            label: b.label,
            messages: async () => (received.push(...(await rabbit.drain())), received),
            drop: () => rabbit.drop(),
          });
          const url = new URL(b.url as string);
          files.push([
            name,
            outboxSource(kind, name, table, {
              to: `amqp://${url.username}:${url.password}@127.0.0.1:${url.port}`,
              exchange: rabbit.exchange,
              routingKey: '{streamId}.{type}',
            }),
          ]);
        }
      }
      h = await handover(kind, {
        tables,
        write: (dir) => {
          for (const [name, source] of files) writeFile(dir, `projections/${name}.mjs`, source);
        },
        followShadow: false,
      });
    }, 150_000);
    afterAll(async () => {
      await h?.place.close();
      for (const r of rigs) await r.drop();
    });

    it('ends with the new version exact for every event, taken up by the waiting V=2 worker, the V=1 workers superseded, the checkpoint at version 2', async () => {
      expect(h.shadowStatus.built?.projections.map((p: { shadow: boolean }) => p.shadow)).toEqual(h.names.map(() => true));
      await checkHandover(h);
    });

    it('puts each event on the broker once across the promote', async () => {
      const added = h.events.filter((e) => e.type === 'Added');
      for (const rig of rigs) {
        const got = await rig.messages();
        const times = new Map<string, number>();
        for (const m of got) times.set(m.id, (times.get(m.id) ?? 0) + 1);
        expect(
          added.filter((e) => times.get(e.id) !== 1).map((e) => `${e.position}×${times.get(e.id) ?? 0}`),
          rig.label,
        ).toEqual([]);
        expect(got.length, rig.label).toBe(added.length);
      }
    });
  });
});
