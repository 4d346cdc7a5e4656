/**
 * Support for the many-workers tests: a store (a SQLite file or a fresh PostgreSQL schema) with six
 * ledger projections, `es project run --follow` workers spawned as processes (optionally under
 * another host name, in a UTS namespace of their own), and direct looks at the store's lock rows and
 * ledgers through the real store and driver.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { openStore } from '../../src/drivers/open-store.js';
import type { EventStore, LeaseRow } from '../../src/ports/event-store.js';
import { ES_BIN, baseEnv, es, tempDir, writeFile } from './helpers.js';
import { freshPgStore } from '../support/pg.js';

export type Backend = 'sqlite' | 'postgres';

/** Six projections over three event types; each records every event it handles under a primary key. */
export const PROJECTIONS: Record<string, string[]> = {
  'p-a': ['A'],
  'p-b': ['B'],
  'p-c': ['C'],
  'p-ab': ['A', 'B'],
  'p-all': ['*'],
  'p-bc': ['B', 'C'],
};

const table = (name: string) => `ledger_${name.replace(/-/g, '_')}`;

function projectionSource(backend: Backend, schema: string | null, name: string, types: string[]): string {
  const t = schema ? `"${schema}".${table(name)}` : table(name);
  const ddl = `CREATE TABLE IF NOT EXISTS ${t} (event_id TEXT PRIMARY KEY, position BIGINT NOT NULL, pid INTEGER NOT NULL)`;
  const handler =
    backend === 'sqlite'
      ? `(event, db) => { db.prepare('INSERT INTO ${t} VALUES (?, ?, ?)').run(event.id, event.position, process.pid); }`
      : `async (event, db) => { await db.query('INSERT INTO ${t} VALUES ($1, $2, $3)', [event.id, event.position, process.pid]); }`;
  const exec = backend === 'sqlite' ? 'db.exec' : 'await db.query';
  return `const handle = ${handler};
export default {
  name: ${JSON.stringify(name)},
  ${backend === 'sqlite' ? '' : 'async '}setup(db) { ${exec}(${JSON.stringify(ddl)}); },
  ${backend === 'sqlite' ? '' : 'async '}reset(db) { ${exec}(${JSON.stringify(`DELETE FROM ${t}`)}); },
  handlers: { ${types.map((type) => `${JSON.stringify(type)}: handle`).join(', ')} },
};
`;
}

export interface Workspace {
  backend: Backend;
  dir: string;
  url: string;
  store: EventStore<unknown>;
  /** The rows of a projection's ledger: event id → pid of the worker that applied it. */
  ledger(name: string): Promise<Map<string, number>>;
  leases(): Promise<LeaseRow[]>;
  /** Appends `n` events of types A, B, C in turn, to a few streams. */
  append(n: number): Promise<void>;
  close(): Promise<void>;
}

let counter = 0;

export async function workspace(backend: Backend, names: string[] = Object.keys(PROJECTIONS)): Promise<Workspace> {
  const dir = tempDir(`es-workers-${backend}-`);
  let url: string;
  let schema: string | null = null;
  let drop = async (): Promise<void> => {};
  if (backend === 'postgres') {
    const fresh = freshPgStore();
    url = fresh.url;
    schema = fresh.schema;
    drop = fresh.drop;
  } else {
    url = `sqlite:${join(dir, 'events.db')}`;
  }
  writeFile(dir, 'es.config.json', JSON.stringify({ db: url }));
  for (const name of names) writeFile(dir, `projections/${name}.mjs`, projectionSource(backend, schema, name, PROJECTIONS[name] as string[]));
  const store = await openStore(url, { create: true });
  const pool = backend === 'postgres' ? new pg.Pool({ connectionString: url.replace(/\?.*$/, ''), max: 2 }) : null;
  const sqlite = backend === 'sqlite' ? new Database(join(dir, 'events.db'), { readonly: true }) : null;
  const ws: Workspace = {
    backend,
    dir,
    url,
    store,
    async ledger(name) {
      const sql = `SELECT event_id, pid FROM ${schema ? `"${schema}".` : ''}${table(name)}`;
      const rows = pool ? (await pool.query<{ event_id: string; pid: number }>(sql)).rows : (sqlite?.prepare(sql).all() as { event_id: string; pid: number }[]);
      return new Map(rows.map((r) => [r.event_id, r.pid]));
    },
    leases: () => store.leases(),
    async append(n) {
      const events = Array.from({ length: n }, () => {
        counter += 1;
        return { streamId: `s-${counter % 7}`, type: 'ABC'[counter % 3] as string, data: { n: counter } };
      });
      await store.appendMany(events);
    },
    async close() {
      await store.close();
      sqlite?.close();
      await pool?.end();
      await drop().catch(() => {});
    },
  };
  // Every projection's tables exist before workers start (setup is run by each taker; concurrent
  // CREATE TABLE IF NOT EXISTS can collide on PostgreSQL's catalog).
  const first = es(dir, ['project', 'run']);
  if (first.code !== 0) throw new Error(`first run failed (${first.code}): ${first.stderr}`);
  return ws;
}

export interface Line {
  at: number;
  text: string;
}

export interface Worker {
  child: ChildProcess;
  lines: Line[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The pid of the es process itself (under unshare it is a child of the spawned process). */
  pid(): Promise<number>;
  /** The pid once the worker said it, else null. */
  knownPid(): number | null;
  stderr(): string;
}

/** `es project run --follow --lease <lease>` in `dir`; with `host`, under that host name (needs root). */
export function startWorker(dir: string, options: { lease?: string; host?: string; args?: string[]; env?: Record<string, string> } = {}): Worker {
  const args = [ES_BIN, 'project', 'run', '--follow', '--lease', options.lease ?? '5s', ...(options.args ?? [])];
  const child = options.host
    ? spawn('unshare', ['--uts', '--fork', 'sh', '-c', `hostname "$1" && shift && exec "$@"`, 'sh', options.host, process.execPath, ...args], {
        cwd: dir,
        env: baseEnv(options.env),
        stdio: ['ignore', 'pipe', 'pipe'],
      })
    : spawn(process.execPath, args, { cwd: dir, env: baseEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Line[] = [];
  let partial = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    const at = Date.now();
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const text of parts) lines.push({ at, text });
  });
  child.stdout?.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    lines,
    exited,
    async pid() {
      for (let i = 0; i < 400; i++) {
        const joined = lines.map((l) => /worker pid (\d+) on /.exec(l.text)).find((m) => m);
        if (joined) return Number(joined[1]);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      throw new Error(`worker did not say it joined: ${lines.map((l) => l.text).join('\n')}`);
    },
    knownPid() {
      const joined = lines.map((l) => /worker pid (\d+) on /.exec(l.text)).find((m) => m);
      return joined ? Number(joined[1]) : null;
    },
    stderr: () => lines.map((l) => l.text).join('\n') + partial,
  };
}

/** Whether this machine can give a process its own host name (unshare --uts, as root). */
export function canSetHostName(): boolean {
  const r = spawnSync('unshare', ['--uts', '--fork', 'sh', '-c', 'hostname es-probe && hostname'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() === 'es-probe';
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `check` holds (async), or throws with `what` after `timeoutMs`. */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Live leases per holder pid, over the projections named. */
export function spread(leases: LeaseRow[], names: string[] = Object.keys(PROJECTIONS)): Map<number, string[]> {
  const by = new Map<number, string[]>();
  for (const l of leases) {
    if (!l.live || !names.includes(l.name)) continue;
    by.set(l.owner.pid, [...(by.get(l.owner.pid) ?? []), l.name]);
  }
  return by;
}
