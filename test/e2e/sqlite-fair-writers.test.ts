import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { appendMany, cleanupTempDirs, es, esBackground, seenPositions, tempDir, writeFile } from './helpers.js';

afterAll(cleanupTempDirs);

/** Each batch holds SQLite's write lock this long: its handler is synchronous and slow. */
const BATCH_SIZE = 100;
const PER_EVENT_MS = 10;
const BATCH_MS = BATCH_SIZE * PER_EVENT_MS;
/** Enough batches to outlast the test's checks by far (the runner is killed at the end). */
const EVENTS = 2000;

const slowProjection = `
export default {
  name: 'slow',
  version: 1,
  setup(db) {
    db.exec('CREATE TABLE IF NOT EXISTS seen_slow (n INTEGER PRIMARY KEY AUTOINCREMENT, position INTEGER NOT NULL)');
  },
  reset(db) {
    db.exec('DELETE FROM seen_slow');
  },
  handlers: {
    '*'(event, db) {
      const until = Date.now() + ${PER_EVENT_MS};
      while (Date.now() < until) {}
      db.prepare('INSERT INTO seen_slow (position) VALUES (?)').run(event.position);
    },
  },
};
`;

function timed<T>(work: () => T): { result: T; ms: number } {
  const started = Date.now();
  const result = work();
  return { result, ms: Date.now() - started };
}

describe('SQLite: other writers get in between long batch transactions', () => {
  it('an append lands within about one batch, and a second run of the held projection exits 75 at once', async () => {
    const dir = tempDir('es-fair-');
    writeFile(dir, 'projections/slow.mjs', slowProjection);
    appendMany(dir, 'orders-1', 'OrderPlaced', EVENTS);
    const dbPath = join(dir, '.es', 'events.db');
    // What an append costs here without a runner (the process's start on a loaded machine).
    const idle = timed(() => es(dir, ['append', 'idle', 'Ping', '{}']));
    expect(idle.result.code).toBe(0);

    const runner = esBackground(dir, ['project', 'run', 'slow', '--batch-size', String(BATCH_SIZE)]);
    try {
      // Past its first batch: from here on it begins one batch transaction after another.
      const deadline = Date.now() + 20_000;
      while (seenPositions(dbPath, 'slow').length < BATCH_SIZE) {
        if (Date.now() > deadline) throw new Error(`the runner made no progress: ${runner.output().stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }

      const append = timed(() => es(dir, ['append', 'orders-2', 'OrderPlaced', '{}'], { timeoutMs: 40_000 }));
      expect(append.result.stderr).toBe('');
      expect(append.result.code).toBe(0);
      // It waits for the batch under way, not for a chance gap among many batches.
      expect(append.ms).toBeLessThan(idle.ms + BATCH_MS + 2500);

      const second = timed(() => es(dir, ['project', 'run', 'slow'], { timeoutMs: 40_000 }));
      expect(second.result.code).toBe(75);
      expect(second.result.stderr).toContain(`slow is being run by pid ${runner.child.pid} on ${hostname()} since `);
      // Refused from the lock row alone, without waiting for the write lock.
      expect(second.ms).toBeLessThan(idle.ms + 2500);
      expect(runner.child.exitCode).toBeNull();
    } finally {
      runner.child.kill('SIGKILL');
      await runner.exited;
    }
  });
});
