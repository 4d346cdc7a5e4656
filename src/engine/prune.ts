import type { Projection } from '../core/projection.js';
import type { ProjectionStore } from '../ports/event-store.js';
import type { Target } from '../ports/target.js';
import { loadCheckpoint } from './checkpoints.js';
import { retryTransient } from './retry.js';

export interface PruneResult {
  name: string;
  removed: number;
  /** The checkpoint's position: no id above it is removed. */
  checkpoint: number;
  /** Ids recorded before this instant (ISO-8601) were old enough. */
  before: string;
}

/**
 * Removes a projection's handled ids that are older than `olderThanMs` AND at or below its saved
 * checkpoint. Time alone is not enough: after a long outage, ids above the checkpoint are still
 * needed to drop the redelivery of their events. Deletes in bounded chunks, each committed alone.
 */
export async function pruneHandled(
  store: Pick<ProjectionStore, 'lastEvent'>,
  projection: Projection,
  target: Target,
  options: { olderThanMs: number; now?: number; chunk?: number },
): Promise<PruneResult> {
  const { position } = await loadCheckpoint(store, projection.name);
  const before = new Date((options.now ?? Date.now()) - options.olderThanMs);
  const removed = await retryTransient(target, () =>
    target.withConnection(async (db) => {
      const ids = target.handled(db);
      await ids.ensure();
      return ids.prune({ projection: projection.name, before, atOrBelow: position, ...(options.chunk ? { chunk: options.chunk } : {}) });
    }),
  );
  return { name: projection.name, removed, checkpoint: position, before: before.toISOString() };
}
