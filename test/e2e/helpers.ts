/**
 * Helpers for the end-to-end tests: every test drives the real `es` CLI as a child process, in a
 * fresh temporary directory used as the working directory, against real SQLite files.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

/** bin/es.js of this repository, resolved from this file. */
export const ES_BIN = fileURLToPath(new URL('../../bin/es.js', import.meta.url));
/** The example projections shipped with the repository. */
export const REPO_PROJECTIONS = fileURLToPath(new URL('../../projections', import.meta.url));

// eslint-disable-next-line no-control-regex
export const ANSI = /\x1b\[/;

export interface EsResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface EsOptions {
  /** Extra environment variables (undefined removes one). */
  env?: Record<string, string | undefined>;
  /** Text (or bytes) given on standard input. */
  input?: string | Buffer;
  /**
   * Send stdout to a file instead of a pipe (for very large outputs, so that a test about the
   * store's contents does not depend on how the CLI flushes a pipe).
   */
  stdoutToFile?: boolean;
  timeoutMs?: number;
}

/** The environment a child starts from: the test's own, minus anything that configures `es` or colour. */
export function baseEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of ['ES_DB', 'ES_PROJECTIONS', 'NO_COLOR', 'FORCE_COLOR', 'NODE_OPTIONS']) delete env[key];
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** Runs `es <args…>` to completion in `cwd`. */
export function es(cwd: string, args: string[], options: EsOptions = {}): EsResult {
  const env = baseEnv(options.env);
  if (options.stdoutToFile) {
    const outFile = join(cwd, `.stdout-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.txt`);
    const fd = openSync(outFile, 'w');
    try {
      const r = spawnSync(process.execPath, [ES_BIN, ...args], {
        cwd,
        env,
        input: options.input,
        stdio: ['pipe', fd, 'pipe'],
        encoding: 'utf8',
        maxBuffer: 512 * 1024 * 1024,
        timeout: options.timeoutMs ?? 60_000,
      });
      closeSync(fd);
      const stdout = readFileSync(outFile, 'utf8');
      rmSync(outFile, { force: true });
      return { code: r.status, signal: r.signal, stdout, stderr: r.stderr ?? '' };
    } catch (error) {
      try {
        closeSync(fd);
      } catch {
        /* already closed */
      }
      throw error;
    }
  }
  const r = spawnSync(process.execPath, [ES_BIN, ...args], {
    cwd,
    env,
    input: options.input,
    encoding: 'utf8',
    maxBuffer: 512 * 1024 * 1024,
    timeout: options.timeoutMs ?? 60_000,
  });
  if (r.error) throw r.error;
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Starts `es <args…>` in the background (for --follow and signals). */
export function esBackground(cwd: string, args: string[], env: Record<string, string | undefined> = {}) {
  const child = spawn(process.execPath, [ES_BIN, ...args], { cwd, env: baseEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  return {
    child: child as ChildProcess,
    exited,
    output: () => ({ stdout, stderr }),
  };
}

/** Parses the output of `es read --json`: one event per line. */
export function jsonLines<T = StoredEventJson>(stdout: string): T[] {
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as T);
}

export interface StoredEventJson {
  position: number;
  id: string;
  streamId: string;
  version: number;
  type: string;
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  recordedAt: string;
}

/** Every user event of the store in `cwd` (default store), read through `es read --json`. */
export function readAll(cwd: string, extraArgs: string[] = []): StoredEventJson[] {
  const r = es(cwd, ['read', '--json', ...extraArgs], { stdoutToFile: true });
  if (r.code !== 0) throw new Error(`es read failed (${r.code}): ${r.stderr}`);
  return jsonLines(r.stdout);
}

/** The events of a projection's checkpoint stream. */
export function checkpointEvents(cwd: string, name: string, extraArgs: string[] = []): StoredEventJson[] {
  const r = es(cwd, ['read', '--stream', `$checkpoint-${name}`, '--json', ...extraArgs]);
  if (r.code !== 0) throw new Error(`es read --stream failed (${r.code}): ${r.stderr}`);
  return jsonLines(r.stdout);
}

const made: string[] = [];

/** A fresh, empty temporary directory (removed by `cleanupTempDirs`). */
export function tempDir(prefix = 'es-e2e-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export function cleanupTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Writes a file (creating folders) and returns its path. */
export function writeFile(dir: string, relativePath: string, text: string): string {
  const path = join(dir, relativePath);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

export interface RecorderOptions {
  version?: number;
  /** Event types with a handler; none: a `*` handler that takes every event. */
  types?: string[];
  /** The `events` field, written out as given. */
  events?: string[];
  /** The handler throws on events whose data has `boom: true`. */
  failOnBoom?: boolean;
  /** Leave `name` out of the definition (it then defaults to the file name). */
  omitName?: boolean;
}

/** The SQL table a recorder projection writes: one row per handled event, in handling order. */
export function recorderTable(name: string): string {
  return `seen_${name.replace(/[^a-z0-9]/g, '_')}`;
}

/**
 * Source of a plain-object projection that records every event it handles into `seen_<name>`
 * (a table without a key, so a replay shows up as repeated rows).
 */
export function recorderSource(name: string, options: RecorderOptions = {}): string {
  const table = recorderTable(name);
  const body = `
      ${options.failOnBoom ? "if (event.data && event.data.boom === true) throw new Error('boom at ' + event.position);" : ''}
      db.prepare('INSERT INTO ${table} (position, stream_id, type) VALUES (?, ?, ?)').run(event.position, event.streamId, event.type);`;
  const types = options.types ?? ['*'];
  const handlers = types.map((t) => `    ${JSON.stringify(t)}(event, db) {${body}\n    },`).join('\n');
  return `// recorder projection written by the e2e tests
export default {
  ${options.omitName ? '' : `name: ${JSON.stringify(name)},`}
  version: ${options.version ?? 1},
  ${options.events ? `events: ${JSON.stringify(options.events)},` : ''}
  setup(db) {
    db.exec('CREATE TABLE IF NOT EXISTS ${table} (n INTEGER PRIMARY KEY AUTOINCREMENT, position INTEGER NOT NULL, stream_id TEXT NOT NULL, type TEXT NOT NULL)');
  },
  reset(db) {
    db.exec('DELETE FROM ${table}');
  },
  handlers: {
${handlers}
  },
};
`;
}

/** Writes a recorder projection as `<dir>/<name>.mjs`. */
export function writeRecorder(projectionsDir: string, name: string, options: RecorderOptions = {}): string {
  return writeFile(projectionsDir, `${name}.mjs`, recorderSource(name, options));
}

/** Positions a recorder projection has handled, in handling order (empty when its table does not exist). */
export function seenPositions(dbPath: string, name: string): number[] {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const table = recorderTable(name);
    const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table);
    if (!exists) return [];
    return db.prepare(`SELECT position FROM ${table} ORDER BY n`).pluck().all() as number[];
  } finally {
    db.close();
  }
}

/** Appends `count` events to `streamId` through `es import -`; returns their positions. */
export function appendMany(cwd: string, streamId: string, type: string, count: number, args: string[] = []): number[] {
  const lines = Array.from({ length: count }, (_, i) => JSON.stringify({ streamId, type, data: { i } })).join('\n');
  const r = es(cwd, ['import', '-', '--format', 'ndjson', ...args], { input: `${lines}\n` });
  if (r.code !== 0) throw new Error(`es import failed (${r.code}): ${r.stderr}`);
  return readAll(cwd, args)
    .slice(-count)
    .map((e) => e.position);
}

/** Appends one event through the CLI and returns its position. */
export function appendOne(cwd: string, streamId: string, type: string, data: object = {}, args: string[] = []): number {
  const r = es(cwd, ['append', streamId, type, JSON.stringify(data), ...args]);
  if (r.code !== 0) throw new Error(`es append failed (${r.code}): ${r.stderr}`);
  return Number(r.stdout.trim());
}

export function parseJson<T = any>(text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new Error(`stdout is not JSON: ${(error as Error).message}\n---\n${text}`, { cause: error });
  }
}

export async function waitFor(check: () => boolean, timeoutMs: number, intervalMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (check()) return true;
    } catch {
      /* not there yet */
    }
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

export const NOBODY = 65534;

/**
 * As root, the permission tests run es as nobody (permissions mean nothing to root), so nobody must
 * reach bin/es.js and its node_modules. A checkout below a folder of mode 0700 (what mktemp -d makes)
 * is out of its reach: such folders above the repository get the search bit for others (x only, no
 * listing), and the test run says so on stderr. Nothing else is changed.
 */
export function letNobodyRunEs(): void {
  if (process.getuid?.() !== 0) return;
  const probe = () =>
    spawnSync(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(ES_BIN)}, require('fs').constants.R_OK)`], {
      uid: NOBODY,
      gid: NOBODY,
    }).status === 0;
  if (probe()) return;
  for (let dir = dirname(dirname(ES_BIN)); ; dir = dirname(dir)) {
    const mode = statSync(dir).mode & 0o7777;
    if ((mode & 0o001) === 0) {
      chmodSync(dir, mode | 0o001);
      process.stderr.write(`es tests: gave others the search bit on ${dir}, so that user nobody can run bin/es.js\n`);
    }
    if (dirname(dir) === dir) break;
  }
}
