import type { Database } from 'better-sqlite3';
import type { LockOwner } from '../../ports/event-store.js';
import { toOwner, type LockRow } from '../lock-row.js';

interface StoredLock extends LockRow {
  expires_at: number;
}

/** Projection locks: a row per held lock, with a lease the holder renews. */
export function prepareLocks(db: Database) {
  const get = db.prepare<[string], StoredLock>('SELECT owner_id, pid, host, since, expires_at, pid_ns, boot_id FROM es_locks WHERE name = ?');
  const put = db.prepare(
    `INSERT INTO es_locks (name, owner_id, pid, host, since, expires_at, pid_ns, boot_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (name) DO UPDATE SET owner_id = excluded.owner_id, pid = excluded.pid, host = excluded.host,
       since = excluded.since, expires_at = excluded.expires_at, pid_ns = excluded.pid_ns, boot_id = excluded.boot_id`,
  );
  const renew = db.prepare<[number, string, string]>('UPDATE es_locks SET expires_at = ? WHERE name = ? AND owner_id = ?');
  const release = db.prepare<[string, string]>('DELETE FROM es_locks WHERE name = ? AND owner_id = ?');

  const tryLock = db.transaction(
    (name: string, owner: LockOwner, ttlMs: number, isDead: (holder: LockOwner) => boolean): LockOwner | null => {
      const now = Date.now();
      const row = get.get(name);
      if (row && row.owner_id !== owner.id && row.expires_at > now && !isDead(toOwner(row))) return toOwner(row);
      put.run(name, owner.id, owner.pid, owner.host, owner.since, now + ttlMs, owner.pidNamespace ?? null, owner.bootId ?? null);
      return null;
    },
  );

  return {
    tryLock: (name: string, owner: LockOwner, ttlMs: number, isDead: (holder: LockOwner) => boolean) =>
      tryLock.immediate(name, owner, ttlMs, isDead),
    renew: (name: string, ownerId: string, ttlMs: number): boolean =>
      renew.run(Date.now() + ttlMs, name, ownerId).changes === 1,
    release: (name: string, ownerId: string): void => {
      release.run(name, ownerId);
    },
  };
}
