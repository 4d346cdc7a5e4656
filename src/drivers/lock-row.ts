import { EsError } from '../core/errors.js';
import type { Fence, LockOwner } from '../ports/event-store.js';

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

/** The refusal of a commit whose lease was taken over (or ran out, `ranOut`): nothing of the unit was written. */
export function fencedError(fence: Fence, ranOut = false): EsError {
  const why = ranOut ? `its lease ran out before the commit` : `fencing token ${fence.token} was taken over`;
  return new EsError('LOCKED', `${fence.name}: lost the lease (${why}); nothing was committed`, {
    details: { fenced: true, projection: fence.name },
  });
}
