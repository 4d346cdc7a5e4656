import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../../src/drivers/sqlite/store.js';
import { thrown } from '../support/thrown.js';

const root = mkdtempSync(join(tmpdir(), 'es-open-busy-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('opening a store another process keeps locked', () => {
  it('gives up after the busy timeout as LOCKED (exit 75: try again), not as a broken store', () => {
    const path = join(root, 'held.db');
    const other = new Sqlite(path);
    other.exec('BEGIN EXCLUSIVE');
    try {
      const started = Date.now();
      const error = thrown(() => new SqliteEventStore(path, { create: true, busyTimeoutMs: 300 }));
      expect(error).toMatchObject({ code: 'LOCKED' });
      expect((error as Error).message).toContain('busy');
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    const store = new SqliteEventStore(path, { create: true, busyTimeoutMs: 300 });
    store.appendSync('s', [{ type: 'A' }]);
    expect(store.db.prepare('SELECT count(*) AS n FROM events').get()).toEqual({ n: 1 });
    store.db.close();
  });
});
