import type { LockOwner } from '../ports/event-store.js';

/** A row of a store's lock table, as both stores keep it. */
export interface LockRow {
  owner_id: string;
  pid: number;
  host: string;
  since: string;
  pid_ns: string | null;
  boot_id: string | null;
}

export const toOwner = (row: LockRow): LockOwner => ({
  id: row.owner_id,
  pid: row.pid,
  host: row.host,
  since: row.since,
  pidNamespace: row.pid_ns,
  bootId: row.boot_id,
});
