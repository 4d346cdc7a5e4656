import { hostname } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { hasOpen, inARow, mainThread, stopSignalProbeEnv, untilWaiting } from '../support/process-state.js';
import { appendMany, cleanupTempDirs, es, esBackground, parseJson, tempDir, waitFor, writeRecorder } from './helpers.js';

afterAll(cleanupTempDirs);

function workspace() {
  const dir = tempDir('es-lock-');
  writeRecorder(join(dir, 'projections'), 'rec');
  writeRecorder(join(dir, 'projections'), 'other');
  appendMany(dir, 'orders-1', 'OrderPlaced', 20);
  return dir;
}

/** Starts `es project run rec --follow` and resolves once it holds the lock and has caught up. */
async function holder(dir: string) {
  const follower = esBackground(dir, ['project', 'run', 'rec', '--follow']);
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const status = parseJson(es(dir, ['project', 'status', 'rec', '--json']).stdout);
    if (status.projections[0].state === 'up-to-date') return follower;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  follower.child.kill('SIGKILL');
  throw new Error(`the follower did not catch up: ${follower.output().stderr}`);
}

describe('one runner per projection', () => {
  it('refuses a second runner with exit 75, naming the holder, and runs the free projections', async () => {
    const dir = workspace();
    const follower = await holder(dir);
    try {
      appendMany(dir, 'orders-2', 'OrderPlaced', 5);
      const second = es(dir, ['project', 'run', 'rec', 'other', '--json']);
      expect(second.code).toBe(75);
      expect(second.stderr).toContain(`pid ${follower.child.pid}`);
      expect(second.stderr).toContain(hostname());
      const rows = parseJson(second.stdout).projections as { name: string; state: string; processed: number }[];
      expect(rows.find((r) => r.name === 'rec')?.state).toBe('locked');
      expect(rows.find((r) => r.name === 'other')).toMatchObject({ state: 'up-to-date', processed: 25 });

      const started = Date.now();
      const waited = es(dir, ['project', 'rebuild', 'rec', '--wait', '1s']);
      expect(waited.code).toBe(75);
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    } finally {
      follower.child.kill('SIGTERM');
      expect((await follower.exited).code).toBe(0);
    }
  });

  it('with --wait, takes over as soon as the holder stops', async () => {
    const dir = workspace();
    const follower = await holder(dir);
    // Stopped only once the waiter waits: es says nothing then, so a probe preloaded into it says when
    // it traps SIGTERM (just before it takes its locks); idle in its event loop after that, it is
    // between two looks at the held lock.
    const waiter = esBackground(dir, ['project', 'rebuild', 'rec', '--wait', '20s', '--json'], stopSignalProbeEnv());
    await untilWaiting(waiter.child.pid as number, () => waiter.output().stderr, 'the rebuild with --wait');
    follower.child.kill('SIGTERM');
    await follower.exited;
    const { code } = await waiter.exited;
    expect(code).toBe(0);
    expect(parseJson(waiter.output().stdout).projections[0]).toMatchObject({ name: 'rec', state: 'up-to-date', processed: 20 });
  });

  it('a holder killed with kill -9 does not block the next run', async () => {
    const dir = workspace();
    const follower = await holder(dir);
    follower.child.kill('SIGKILL');
    await follower.exited;
    appendMany(dir, 'orders-3', 'OrderPlaced', 3);
    const next = es(dir, ['project', 'run', 'rec', '--json']);
    expect(next.stderr).toBe('');
    expect(next.code).toBe(0);
    expect(parseJson(next.stdout).projections[0].processed).toBe(3);
  });

  it('a store whose write lock another process holds is waited for, not reported as broken', async () => {
    const dir = workspace();
    const other = new Database(join(dir, '.es', 'events.db'));
    other.exec('BEGIN IMMEDIATE');
    const dbPath = join(dir, '.es', 'events.db');
    const writer = esBackground(dir, ['append', 'orders-9', 'OrderPlaced', '{}']);
    // Let go once the writer waits for the lock: it has the store open and its main thread sleeps
    // between tries (Atomics.wait or SQLite's busy handler), not in its event loop.
    const pid = writer.child.pid as number;
    const waits = await waitFor(
      inARow(() => hasOpen(pid, dbPath) && ['sleeping', 'unknown'].includes(mainThread(pid))),
      15_000,
      10,
    );
    expect(waits, `the writer did not wait for the write lock: ${JSON.stringify(writer.output())}`).toBe(true);
    other.exec('ROLLBACK');
    other.close();
    const { code } = await writer.exited;
    expect(writer.output().stderr).toBe('');
    expect(code).toBe(0);
    expect(Number(writer.output().stdout.trim())).toBeGreaterThan(20);
  });

  it('a lease held from another host blocks until it runs out (at most 30 s), then is taken over', () => {
    const dir = workspace();
    const db = new Database(join(dir, '.es', 'events.db'));
    const lease = db.prepare(`INSERT OR REPLACE INTO es_locks (name, owner_id, pid, host, since, expires_at) VALUES ('rec', 'x', 1, 'far-away', ?, ?)`);
    lease.run(new Date().toISOString(), Date.now() + 30_000);
    const blocked = es(dir, ['project', 'run', 'rec']);
    expect(blocked.code).toBe(75);
    expect(blocked.stderr).toContain('far-away');
    lease.run(new Date().toISOString(), Date.now() - 1);
    db.close();
    const after = es(dir, ['project', 'run', 'rec']);
    expect(after.code).toBe(0);
  });
});
