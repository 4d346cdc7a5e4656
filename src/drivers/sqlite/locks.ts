import type { Database } from 'better-sqlite3';
import type { Fence, LeaseAttempt, LeaseRow, LockOwner } from '../../ports/event-store.js';
import { fencedError, toOwner, type LockRow } from '../lock-row.js';

interface StoredLock extends LockRow {
  expires_at: number;
  token: number;
}

/**
 * Projection locks: a row per projection, with a lease the holder renews and a fencing token that
 * grows at every acquisition. A release empties the owner but keeps the row, so tokens never repeat.
 */
export function prepareLocks(db: Database) {
  const columns = 'name, owner_id, pid, host, since, expires_at, pid_ns, boot_id, token';
  const get = db.prepare<[string], StoredLock>(`SELECT ${columns} FROM es_locks WHERE name = ?`);
  const all = db.prepare<[], StoredLock & { name: string }>(`SELECT ${columns} FROM es_locks WHERE owner_id <> ''`);
  const put = db.prepare<unknown[], { token: number }>(
    `INSERT INTO es_locks (name, owner_id, pid, host, since, expires_at, pid_ns, boot_id, token) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)
     ON CONFLICT (name) DO UPDATE SET owner_id = excluded.owner_id, pid = excluded.pid, host = excluded.host,
       since = excluded.since, expires_at = excluded.expires_at, pid_ns = excluded.pid_ns, boot_id = excluded.boot_id,
       token = es_locks.token + 1
     RETURNING token`,
  );
  const renew = db.prepare<[number, string, string, number | null, number | null]>(
    'UPDATE es_locks SET expires_at = ? WHERE name = ? AND owner_id = ? AND (? IS NULL OR token = ?)',
  );
  const release = db.prepare<[number, string, string, number | null, number | null]>(
    `UPDATE es_locks SET owner_id = '', expires_at = ? WHERE name = ? AND owner_id = ? AND (? IS NULL OR token = ?)`,
  );
  const fence = db.prepare<[string, string, number]>('SELECT 1 FROM es_locks WHERE name = ? AND owner_id = ? AND token = ?');
  /** Who holds the lease, when someone else holds it and is not known to be dead. */
  const otherHolder = (name: string, owner: LockOwner, isDead: (holder: LockOwner) => boolean): LockOwner | null => {
    const row = get.get(name);
    if (!row || row.owner_id === '' || row.owner_id === owner.id || row.expires_at <= Date.now()) return null;
    const holder = toOwner(row);
    return isDead(holder) ? null : holder;
  };
  /** Within the caller's write transaction: the holder read and the takeover then cannot be split. */
  const tryLease = (name: string, owner: LockOwner, ttlMs: number, isDead: (holder: LockOwner) => boolean): LeaseAttempt => {
    const holder = otherHolder(name, owner, isDead);
    if (holder) return { taken: false, holder };
    const now = Date.now();
    const taken = put.get(name, owner.id, owner.pid, owner.host, owner.since, now + ttlMs, owner.pidNamespace ?? null, owner.bootId ?? null);
    return { taken: true, token: Number(taken?.token ?? 1) };
  };

  return {
    tryLease,
    /** Outside any transaction, this needs no write lock: a refusal never waits for another process's batch. */
    otherHolder,
    renew: (name: string, ownerId: string, ttlMs: number, token?: number): boolean =>
      renew.run(Date.now() + ttlMs, name, ownerId, token ?? null, token ?? null).changes === 1,
    release: (name: string, ownerId: string, token?: number): void => {
      release.run(Date.now(), name, ownerId, token ?? null, token ?? null);
    },
    /** Inside the commit's transaction (BEGIN IMMEDIATE: no takeover can come between check and commit). */
    checkFences: (fences: readonly Fence[]): void => {
      for (const f of fences) if (fence.get(f.name, f.ownerId, f.token) === undefined) throw fencedError(f);
    },
    leases: (): LeaseRow[] => {
      const now = Date.now();
      return all.all().map((row) => ({
        name: row.name,
        owner: toOwner(row),
        token: Number(row.token),
        expiresAt: new Date(row.expires_at).toISOString(),
        live: row.expires_at > now,
      }));
    },
  };
}
