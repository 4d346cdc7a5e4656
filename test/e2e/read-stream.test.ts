import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../../src/drivers/sqlite/store.js';
import { renameInPlace, writeOldStore } from '../support/old-store.js';
import { ES_BIN, baseEnv, cleanupTempDirs, es, tempDir } from './helpers.js';

afterAll(cleanupTempDirs);

const ROWS = 300_000;
const SYSTEM_EVERY = 100;
const USER_EVENTS = ROWS - ROWS / SYSTEM_EVERY;
let dir: string;

beforeAll(() => {
  dir = tempDir('es-read-stream-');
  writeOldStore(join(dir, 'events.db'), ROWS, SYSTEM_EVERY);
  // The first open upgrades the store; done here so no test below pays for it.
  expect(es(dir, ['--db', 'events.db', 'read', '--limit', '1']).code).toBe(0);
}, 120_000);

/** Runs `es <args>`, keeps the first line of stdout, then closes the pipe as `| head -1` does. */
function firstLineThenClose(args: string[]): Promise<{ line: string; code: number | null; stderr: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [ES_BIN, ...args], { cwd: dir, env: baseEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stderr = '';
    let line: string | null = null;
    child.stdout.on('data', (chunk: Buffer) => {
      if (line !== null) return;
      out += chunk.toString('utf8');
      const end = out.indexOf('\n');
      if (end >= 0) {
        line = out.slice(0, end);
        child.stdout.destroy();
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ line: line ?? '', code, stderr, ms: performance.now() - started }));
  });
}

describe('es read streams the log', () => {
  it('stops at once, quietly and with exit 0, when the reader closes the pipe (| head -1)', async () => {
    for (const args of [['read'], ['read', '--json'], ['read', '--include-system']]) {
      const r = await firstLineThenClose(['--db', 'events.db', ...args]);
      expect(r.line, args.join(' ')).toMatch(/^( +1 {2}s-0@1|\{"position":1,)/);
      expect(r.stderr, args.join(' ')).toBe('');
      expect(r.code, args.join(' ')).toBe(0);
      // Loading the whole log first took seconds here; a page takes milliseconds.
      expect(r.ms, args.join(' ')).toBeLessThan(5000);
    }
  });

  it('prints every event of a log larger than its heap, in order (--json and the table)', () => {
    // 32 MB of heap: holding 300k events at once does not fit; a page at a time does.
    const env = { NODE_OPTIONS: '--max-old-space-size=32' };
    const json = es(dir, ['--db', 'events.db', 'read', '--json'], { env, stdoutToFile: true, timeoutMs: 120_000 });
    expect(json.stderr).toBe('');
    expect(json.code).toBe(0);
    const lines = json.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(USER_EVENTS);
    const positions = lines.map((l) => (JSON.parse(l) as { position: number }).position);
    expect(positions.every((p, i) => i === 0 || p > positions[i - 1]!)).toBe(true);
    expect(positions[0]).toBe(1);
    expect(positions.at(-1)).toBe(ROWS - 1);

    const human = es(dir, ['--db', 'events.db', 'read', '--include-system', '--from', '1000'], { env, stdoutToFile: true, timeoutMs: 120_000 });
    expect(human.code).toBe(0);
    expect(human.stdout.trimEnd().split('\n')).toHaveLength(ROWS - 999);
  });

  it.skipIf(!existsSync('/dev/full'))('says so and exits 3 when the output cannot be written (a full disk)', () => {
    const full = openSync('/dev/full', 'w');
    try {
      const r = spawnSync(process.execPath, [ES_BIN, '--db', 'events.db', 'read', '--json'], {
        cwd: dir,
        env: baseEnv(),
        stdio: ['ignore', full, 'pipe'],
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(r.stderr).toMatch(/^es: cannot write the output: ENOSPC[^\n]*\n$/);
      expect(r.status).toBe(3);
    } finally {
      closeSync(full);
    }
  });

  it('pages through one stream, from a position and up to a limit', () => {
    const lines = (args: string[]) =>
      es(dir, ['--db', 'events.db', 'read', '--json', ...args])
        .stdout.trimEnd()
        .split('\n');
    const s0 = lines(['--stream', 's-0']).map((l) => JSON.parse(l) as { version: number; position: number });
    // s-0 holds the user events at rows 0, 50, 100, …: every 50th, minus the system ones.
    expect(s0.length).toBeGreaterThan(5000);
    expect(s0.map((e) => e.version)).toEqual([...s0.map((e) => e.version)].sort((a, b) => a - b));
    const middle = s0[2500]!.position;
    const tail = lines(['--stream', 's-0', '--from', String(middle), '--limit', '2345']).map((l) => JSON.parse(l) as { position: number });
    expect(tail.map((e) => e.position)).toEqual(s0.slice(2500, 2500 + 2345).map((e) => e.position));
    expect(es(dir, ['--db', 'events.db', 'read', '--limit', '0']).stdout).toBe('');
  });
});

describe('es read shows text from the log safely', () => {
  it('escapes control characters in stream ids and types in the table, and keeps them exact in JSON', async () => {
    const local = tempDir();
    const store = new SqliteEventStore(join(local, 'events.db'), { create: true });
    await store.append('plain', [{ type: 'Plain', data: { note: 'x\x1by' } }]);
    await store.close();
    // es refuses such names now; a store written by an older es (or by hand) may still hold them.
    renameInPlace(join(local, 'events.db'), { streamId: 'evil\x1b[2J\rstream', type: 'Bad\ntype\u202e' });
    const table = es(local, ['--db', 'events.db', 'read']);
    expect(table.code).toBe(0);
    // eslint-disable-next-line no-control-regex
    expect(table.stdout).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f\u202e]/);
    expect(table.stdout.trimEnd().split('\n')).toHaveLength(1);
    expect(table.stdout).toContain('evil\\x1b[2J\\rstream@1  Bad\\ntype\\u202e  {"note":"x\\u001by"}');
    const json = JSON.parse(es(local, ['--db', 'events.db', 'read', '--json']).stdout) as { streamId: string; type: string };
    expect(json.streamId).toBe('evil\x1b[2J\rstream');
    expect(json.type).toBe('Bad\ntype\u202e');
  });
});
