import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { writeOldStore } from '../support/old-store.js';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { appendOne, baseEnv, cleanupTempDirs, es, ES_BIN, letNobodyRunEs, NOBODY, tempDir, writeRecorder } from './helpers.js';

afterAll(cleanupTempDirs);

// Permissions mean nothing to root: as root (CI), the CLI runs as nobody for these cases.
const ROOT = process.getuid?.() === 0;
letNobodyRunEs();

/** Runs es as an unprivileged user (nobody when the tests run as root, else the test's own user). */
function esUnprivileged(cwd: string, args: string[]) {
  const r = spawnSync(process.execPath, [ES_BIN, ...args], {
    cwd,
    env: baseEnv(),
    encoding: 'utf8',
    timeout: 60_000,
    ...(ROOT ? { uid: NOBODY, gid: NOBODY } : {}),
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A temp folder the unprivileged user can enter (mkdtemp makes it 0700). */
function openDir(): string {
  const dir = tempDir('es-fs-');
  chmodSync(dir, 0o755);
  return dir;
}

/** The file belongs to the unprivileged user, so only the folder's permissions are in the way. */
function giveAway(path: string): void {
  if (ROOT) chownSync(path, NOBODY, NOBODY);
}

function expectOneLine(r: { code: number | null; stderr: string }, code: number, ...parts: string[]) {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr).toMatch(/^es: [^\n]*\n$/);
  expect(r.stderr).not.toContain('unexpected');
  for (const part of parts) expect(r.stderr).toContain(part);
}

describe('file-system problems opening the store are exit 3 with one line naming the cause', () => {
  it('a store path below a file (ENOTDIR/EEXIST on mkdir)', () => {
    const dir = openDir();
    writeFileSync(join(dir, 'plain.txt'), 'not a folder\n');
    for (const db of [join(dir, 'plain.txt', 'x.db'), join(dir, 'plain.txt', 'deeper', 'x.db')]) {
      const r = es(dir, ['--db', db, 'append', 's', 'A']);
      expectOneLine(r, 3, join(dir, 'plain.txt'), 'not a folder');
    }
  });

  it('a store path that is a folder or a device, or whose name is too long', () => {
    const dir = openDir();
    mkdirSync(join(dir, 'folder.db'));
    for (const args of [['append', 's', 'A'], ['read']]) {
      expectOneLine(es(dir, ['--db', join(dir, 'folder.db'), ...args]), 3, 'folder.db', 'is a folder');
      expectOneLine(es(dir, ['--db', '/dev/null', ...args]), 3, '/dev/null', 'not a regular file');
    }
    expectOneLine(es(dir, ['--db', join(dir, `${'n'.repeat(300)}.db`), 'append', 's', 'A']), 3, 'too long');
  });

  it('a new store in a folder the user cannot write (EACCES), or below one', () => {
    const dir = openDir();
    const locked = join(dir, 'locked');
    mkdirSync(locked, { mode: 0o555 });
    chmodSync(locked, 0o555);
    expectOneLine(esUnprivileged(dir, ['--db', join(locked, 'x.db'), 'append', 's', 'A']), 3, locked, 'permission denied');
    expectOneLine(esUnprivileged(dir, ['--db', join(locked, 'sub', 'x.db'), 'append', 's', 'A']), 3, locked, 'permission denied');
    expect(readdirSync(locked)).toEqual([]);
  });

  it('a writable store in a read-only folder: says SQLite needs its -wal and -shm files beside it', () => {
    const dir = openDir();
    const folder = join(dir, 'ro');
    mkdirSync(folder);
    const db = join(folder, 'events.db');
    appendOne(dir, 's', 'A', {}, ['--db', db]);
    giveAway(db);
    chmodSync(folder, 0o555);
    for (const args of [['append', 's', 'B'], ['read']]) {
      expectOneLine(esUnprivileged(dir, ['--db', db, ...args]), 3, '-wal', '-shm', folder);
    }
    chmodSync(folder, 0o755);
    expect(es(dir, ['--db', db, 'read', '--json']).stdout.trim().split('\n')).toHaveLength(1);
  });

  it('a read-only store file: reading works, appending is exit 3 saying the file is read-only', () => {
    const dir = openDir();
    const folder = join(dir, 'rw');
    mkdirSync(folder, { mode: 0o777 });
    chmodSync(folder, 0o777);
    const db = join(folder, 'events.db');
    appendOne(dir, 's', 'A', {}, ['--db', db]);
    giveAway(db);
    chmodSync(db, 0o444);
    expect(esUnprivileged(dir, ['--db', db, 'read']).code).toBe(0);
    expectOneLine(esUnprivileged(dir, ['--db', db, 'append', 's', 'B']), 3, db, 'read-only');
    writeRecorder(join(dir, 'projections'), 'rec');
    expectOneLine(esUnprivileged(dir, ['--db', db, 'project', 'run', 'rec']), 3, db, 'read-only');
    expect(existsSync(db)).toBe(true);
  });

  it('a read-only store written by an older es (no lock identity columns) can still be read; a run is exit 3', () => {
    const dir = openDir();
    const folder = join(dir, 'old');
    mkdirSync(folder);
    chmodSync(folder, 0o777);
    const db = join(folder, 'events.db');
    writeOldStore(db, 1);
    const raw = new Database(db);
    raw.pragma('journal_mode = WAL');
    raw.close();
    giveAway(db);
    chmodSync(db, 0o444);
    writeRecorder(join(dir, 'projections'), 'rec');
    const read = esUnprivileged(dir, ['--db', db, 'read', '--json']);
    expect(read.stderr).toBe('');
    expect(read.code).toBe(0);
    expect(JSON.parse(read.stdout).id).toBe('e-000000000');
    expectOneLine(esUnprivileged(dir, ['--db', db, 'project', 'run', 'rec']), 3, db, 'read-only');
  });
});
