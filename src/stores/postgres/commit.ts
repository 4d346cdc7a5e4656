import type { ClientBase } from 'pg';
import { checkExpectedVersion } from '../../core/events.js';
import type { AppendResult, CommitUnit, Fence } from '../../ports/event-store.js';
import { fencedError } from '../lock-row.js';
import { insertEvents, streamHead } from './append.js';

/** The version through which a stream that keeps its last `keep` events is trimmed after `version`. */
const trimThrough = (version: number, keep: number | undefined): number => (keep === undefined ? 0 : Math.max(0, version - Math.max(1, keep)));

/**
 * The leases and the checkpoint stream's head in one round trip. Each lease must still be the
 * committer's: FOR SHARE holds its row, so a takeover (which updates it) waits for this commit, and a
 * takeover that committed first fails the check (PostgreSQL re-reads the row's newest version
 * before locking it).
 */
async function fencedHead(client: ClientBase, schema: string, streamId: string, fences: readonly Fence[]): Promise<number> {
  const { rows } = await client.query<{ version: number | null; held: string[] | null }>(
    `WITH held AS (
       SELECT l.name FROM "${schema}".es_locks l
       JOIN unnest($2::text[], $3::text[], $4::bigint[]) AS f(name, owner_id, token)
         ON l.name = f.name AND l.owner_id = f.owner_id AND l.token = f.token
       FOR SHARE OF l)
     SELECT (SELECT e.version FROM "${schema}".events e WHERE e.stream_id = $1 ORDER BY e.version DESC LIMIT 1) AS version,
            (SELECT array_agg(held.name) FROM held) AS held`,
    [streamId, fences.map((f) => f.name), fences.map((f) => f.ownerId), fences.map((f) => f.token)],
  );
  const row = rows[0];
  const held = new Set(row?.held ?? []);
  const lost = fences.find((fence) => !held.has(fence.name));
  if (lost) throw fencedError(lost);
  return row?.version ?? 0;
}

/**
 * A batch's unit inside the caller's transaction: the read-model writes, the checkpoint event with
 * its expected version, the trim, and any further events (dead letters, other checkpoints).
 */
export async function commitInTransaction(client: ClientBase, schema: string, unit: CommitUnit<ClientBase>): Promise<AppendResult> {
  // The leases first: a holder that lost one while paused writes nothing at all. The expected
  // version too: a retry of a commit that did land (its connection lost during COMMIT) must
  // conflict, not run its handlers a second time over their own writes.
  const head = await fencedHead(client, schema, unit.streamId, unit.fences ?? []);
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
