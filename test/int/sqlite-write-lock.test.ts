/**
 * SQLite's one write lock, held by another process's long transaction: a projection lock that is
 * held must still be refused at once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { LockOwner } from '../../src/ports/event-store.js';
import { SqliteEventStore } from '../../src/drivers/sqlite/store.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function freshPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'es-write-lock-'));
  dirs.push(dir);
  return join(dir, 'events.db');
}

const owner = (id: string, pid: number): LockOwner => ({ id, pid, host: 'h', since: '2026-01-01T00:00:00.000Z' });
const never = () => false;

describe('SqliteEventStore while another process holds the write lock', () => {
  it('refuses a held projection lock at once, naming the holder, without waiting for the write lock', async () => {
    const path = freshPath();
    const holder = new SqliteEventStore(path, { create: true });
    expect((await holder.tryLease('p', owner('a', 101), 30_000, never)).taken).toBe(true);
    const other = new Sqlite(path);
    other.exec('BEGIN IMMEDIATE');
    const second = new SqliteEventStore(path, { busyTimeoutMs: 5_000 });
    try {
      const started = performance.now();
      const attempt = await second.tryLease('p', owner('b', 202), 30_000, never);
      expect(attempt).toEqual({ taken: false, holder: expect.objectContaining({ id: 'a', pid: 101, host: 'h' }) });
      expect(performance.now() - started).toBeLessThan(1_000);
    } finally {
      other.exec('ROLLBACK');
      other.close();
      await second.close();
      await holder.close();
    }
  });
});
