import type { ClientBase } from 'pg';
import { checkExpectedVersion } from '../../core/events.js';
import type { AppendResult, CommitUnit } from '../../ports/event-store.js';
import { insertEvents, streamHead } from './append.js';
import { checkFences } from './locks.js';

async function trim(client: ClientBase, schema: string, streamId: string, upToVersion: number): Promise<void> {
  if (upToVersion > 0) {
    await client.query(`DELETE FROM "${schema}".events e WHERE e.stream_id = $1 AND e.version <= $2`, [streamId, upToVersion]);
  }
}

/**
 * A batch's unit inside the caller's transaction: the read-model writes, the checkpoint event with
 * its expected version, the trim, and any further events (dead letters, other checkpoints).
 */
export async function commitInTransaction(client: ClientBase, schema: string, unit: CommitUnit<ClientBase>): Promise<AppendResult> {
  // The leases first: a holder that lost one while paused writes nothing at all.
  if (unit.fences && unit.fences.length > 0) await checkFences(client, schema, unit.fences);
  // The expected version first: a retry of a commit that did land (its connection lost during
  // COMMIT) must conflict, not run its handlers a second time over their own writes.
  const head = await streamHead(client, schema, unit.streamId);
  checkExpectedVersion(unit.streamId, head.version, unit.expectedVersion);
  if (unit.apply) await unit.apply(client);
  const appended = await insertEvents(client, schema, unit.streamId, head.version, [unit.event]);
  if (unit.keep !== undefined) await trim(client, schema, unit.streamId, appended.version - Math.max(1, unit.keep));
  for (const extra of unit.also ?? []) {
    const current = await streamHead(client, schema, extra.streamId);
    if (extra.expectedVersion !== undefined) checkExpectedVersion(extra.streamId, current.version, extra.expectedVersion);
    const added = await insertEvents(client, schema, extra.streamId, current.version, [extra.event]);
    if (extra.keep !== undefined) await trim(client, schema, extra.streamId, added.version - Math.max(1, extra.keep));
  }
  return appended;
}
