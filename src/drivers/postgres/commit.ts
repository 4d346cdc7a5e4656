import type { ClientBase, Pool } from 'pg';
import { checkExpectedVersion } from '../../core/events.js';
import type { AppendResult, CommitUnit, Fence } from '../../ports/event-store.js';
import { fencedError } from '../lock-row.js';
import { insertEvents, streamHead } from './append.js';
import { NOW_MS } from './locks.js';
import { pooledTransaction } from './tx.js';

/** The version through which a stream that keeps its last `keep` events is trimmed after `version`. */
const trimThrough = (version: number, keep: number | undefined): number => (keep === undefined ? 0 : Math.max(0, version - Math.max(1, keep)));

/** How long the fence may wait for a takeover under way (a row lock held for milliseconds) before the commit is retried. */
const FENCE_LOCK_TIMEOUT_MS = 5000;
/** The SQLSTATE the fence raises: ES, then F(ence) 01. */
const FENCED = 'ESF01';

/** The shortest lease among the fences (ms), if any says its length. */
function idleLimit(fences: readonly Fence[]): number | null {
  const leases = fences.map((f) => f.leaseMs).filter((ms): ms is number => ms !== undefined && ms > 0);
  return leases.length > 0 ? Math.round(Math.min(...leases)) : null;
}

/**
 * The fences and the checkpoint stream's head, without locking: a holder that has lost a lease by
 * then does not even run its handlers. The fences are left in the transaction (`es.fences`) for the
 * fence that decides, at commit. A fenced transaction that sits idle as long as its shortest lease
 * (its process paused, killed behind a silent link, cut off) is ended by the server: whatever its
 * handlers locked (read-model rows, the checkpoint's next version) is not kept from the next holder
 * for longer than the lease.
 */
async function headAndEarlyFence(client: ClientBase, schema: string, streamId: string, fences: readonly Fence[]): Promise<number> {
  const { rows } = await client.query<{ version: number | null; held: string[] | null; ours: string[] | null }>(
    `SELECT (SELECT e.version FROM "${schema}".events e WHERE e.stream_id = $1 ORDER BY e.version DESC LIMIT 1) AS version,
            (SELECT array_agg(l.name) FROM "${schema}".es_locks l JOIN jsonb_to_recordset($2::jsonb) AS f(name text, "ownerId" text, token bigint)
               ON l.name = f.name AND l.owner_id = f."ownerId" AND l.token = f.token
             WHERE l.expires_at > ${NOW_MS}) AS held,
            (SELECT array_agg(l.name) FROM "${schema}".es_locks l JOIN jsonb_to_recordset($2::jsonb) AS f(name text, "ownerId" text, token bigint)
               ON l.name = f.name AND l.owner_id = f."ownerId" AND l.token = f.token) AS ours,
            set_config('es.fences', $2::text, true),
            set_config('idle_in_transaction_session_timeout', coalesce($3::text, current_setting('idle_in_transaction_session_timeout')), true)`,
    [streamId, JSON.stringify(fences.map(({ name, ownerId, token }) => ({ name, ownerId, token }))), idleLimit(fences)],
  );
  const row = rows[0];
  const held = new Set(row?.held ?? []);
  const lost = fences.find((fence) => !held.has(fence.name));
  if (lost) throw fencedError(lost, (row?.ours ?? []).includes(lost.name));
  return row?.version ?? 0;
}

/**
 * The fence that decides, and COMMIT, in one message: the server runs the COMMIT right after the
 * check, so no pause, partition or kill of this process can come between them, and the lease rows
 * are locked (FOR SHARE, so a takeover's FOR UPDATE waits) for that instant only, never through a
 * batch. Each lease must still be this holder's and not have run out, by the server's clock. A
 * failed check aborts the rest of the message: the COMMIT does not run.
 */
function fenceAndCommit(schema: string): string {
  return `DO $es_fence$
DECLARE f record; ours boolean;
BEGIN
  PERFORM set_config('lock_timeout', '${FENCE_LOCK_TIMEOUT_MS}', true);
  FOR f IN SELECT * FROM jsonb_to_recordset(current_setting('es.fences')::jsonb) AS x(name text, "ownerId" text, token bigint) LOOP
    PERFORM 1 FROM "${schema}".es_locks l
     WHERE l.name = f.name AND l.owner_id = f."ownerId" AND l.token = f.token AND l.expires_at > ${NOW_MS} FOR SHARE;
    IF NOT FOUND THEN
      SELECT l.owner_id = f."ownerId" AND l.token = f.token INTO ours FROM "${schema}".es_locks l WHERE l.name = f.name;
      RAISE EXCEPTION 'lost the lease' USING ERRCODE = '${FENCED}', DETAIL = f.name, HINT = CASE WHEN ours THEN 'ran out' ELSE 'taken over' END;
    END IF;
  END LOOP;
END $es_fence$;
COMMIT`;
}

/**
 * A batch's unit inside the caller's transaction: the read-model writes, the checkpoint event with
 * its expected version, the trim, and any further events (dead letters, other checkpoints).
 */
export async function commitInTransaction(client: ClientBase, schema: string, unit: CommitUnit<ClientBase>): Promise<AppendResult> {
  // The expected version first: a retry of a commit that did land (its connection lost during
  // COMMIT) must conflict, not run its handlers a second time over their own writes.
  const head = await headAndEarlyFence(client, schema, unit.streamId, unit.fences ?? []);
  checkExpectedVersion(unit.streamId, head, unit.expectedVersion);
  if (unit.apply) await unit.apply(client);
  const appended = await insertEvents(client, schema, unit.streamId, head, [unit.event], trimThrough(head + 1, unit.keep));
  for (const extra of unit.also ?? []) {
    const current = await streamHead(client, schema, extra.streamId);
    if (extra.expectedVersion !== undefined) checkExpectedVersion(extra.streamId, current.version, extra.expectedVersion);
    await insertEvents(client, schema, extra.streamId, current.version, [extra.event], trimThrough(current.version + 1, extra.keep));
  }
  return appended;
}

/** A batch's unit in a transaction of its own, committed only if its leases hold at that moment. */
export async function commitUnit(pool: Pool, schema: string, unit: CommitUnit<ClientBase>): Promise<AppendResult> {
  try {
    return await pooledTransaction(pool, (client) => commitInTransaction(client, schema, unit), {
      commit: unit.fences?.length ? fenceAndCommit(schema) : 'COMMIT',
    });
  } catch (error) {
    const e = error as { code?: unknown; detail?: unknown; hint?: unknown };
    const lost = e.code === FENCED ? unit.fences?.find((f) => f.name === e.detail) : undefined;
    throw lost ? fencedError(lost, e.hint === 'ran out') : error;
  }
}
