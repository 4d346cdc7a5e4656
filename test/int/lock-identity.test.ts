import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { sharesPidSpace } from '../../src/engine/holder-identity.js';
import type { LockOwner } from '../../src/ports/event-store.js';
import { writeOldStore } from '../support/old-store.js';
import { SqliteEventStore } from '../../src/drivers/sqlite/store.js';

const root = mkdtempSync(join(tmpdir(), 'es-lock-identity-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('es_locks holder identity', () => {
  it('adds the identity columns to a store whose es_locks predates them, keeping a held lock', async () => {
    const path = join(root, 'old.db');
    // A store of schema version 1, whose es_locks predates the identity columns, with a held lock.
    writeOldStore(path, 0);
    const raw = new Sqlite(path);
    raw.exec(`INSERT INTO es_locks VALUES ('p', 'old-owner', 1, 'elsewhere', '2026-01-01T00:00:00.000Z', ${Date.now() + 60_000});`);
    raw.close();
    const store = new SqliteEventStore(path);
    try {
      const columns = (store.db.prepare('PRAGMA table_info(es_locks)').all() as { name: string }[]).map((c) => c.name);
      expect(columns).toEqual(expect.arrayContaining(['pid_ns', 'boot_id']));
      const owner: LockOwner = { id: 'new', pid: process.pid, host: 'here', since: new Date().toISOString() };
      const attempt = await store.tryLease('p', owner, 30_000, () => false);
      expect(attempt.taken ? null : attempt.holder).toMatchObject({ id: 'old-owner', pidNamespace: null, bootId: null });
    } finally {
      await store.close();
    }
  });

  it('stores and returns the identity a holder gives', async () => {
    const store = new SqliteEventStore(join(root, 'new.db'), { create: true });
    try {
      const first: LockOwner = { id: 'a', pid: 10, host: 'h', since: 's', pidNamespace: 'pid:[7]', bootId: 'b-1' };
      expect((await store.tryLease('p', first, 30_000, () => false)).taken).toBe(true);
      const second: LockOwner = { id: 'b', pid: 11, host: 'h', since: 's' };
      const refused = await store.tryLease('p', second, 30_000, () => false);
      expect(refused.taken ? null : refused.holder).toMatchObject({ pidNamespace: 'pid:[7]', bootId: 'b-1' });
    } finally {
      await store.close();
    }
  });
});

describe('sharesPidSpace', () => {
  const me = { pidNamespace: 'pid:[1]', bootId: 'boot-1' };
  const holder = (extra: Partial<LockOwner>): LockOwner => ({ id: 'x', pid: 5, host: 'h', since: 's', ...extra });

  it('is true only for the same host name, PID namespace and boot', () => {
    expect(sharesPidSpace(holder({ pidNamespace: 'pid:[1]', bootId: 'boot-1' }), 'h', me)).toBe(true);
    expect(sharesPidSpace(holder({ pidNamespace: 'pid:[1]', bootId: 'boot-1' }), 'other', me)).toBe(false);
    expect(sharesPidSpace(holder({ pidNamespace: 'pid:[2]', bootId: 'boot-1' }), 'h', me)).toBe(false);
    expect(sharesPidSpace(holder({ pidNamespace: 'pid:[1]', bootId: 'boot-2' }), 'h', me)).toBe(false);
    expect(sharesPidSpace(holder({}), 'h', me)).toBe(false);
  });

  it('without an identity of its own, trusts a host name only off Linux, and only for a holder without one either', () => {
    const unknown = { pidNamespace: null, bootId: null };
    expect(sharesPidSpace(holder({ pidNamespace: 'pid:[1]', bootId: 'boot-1' }), 'h', unknown)).toBe(false);
    expect(sharesPidSpace(holder({}), 'h', unknown)).toBe(process.platform !== 'linux');
  });
});
