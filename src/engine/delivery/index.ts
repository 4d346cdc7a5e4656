import type { StoredEvent } from '../../core/events.js';
import type { Projection } from '../../core/projection.js';
import type { AppendResult, CommitUnit, Fence, ProjectionStore } from '../../ports/event-store.js';
import type { Target } from '../../ports/target.js';
import type { ApplyTarget } from '../apply.js';
import type { FaultInfo } from '../checkpoints.js';
import { commitWithRetry, retryTransient } from '../retry.js';
import { targetDelivery } from './target.js';

/** Builds the function run inside the read model's transaction; it throws HandlerFailure or BatchFailure. */
export type MakeApply<Db> = (events: readonly StoredEvent[], sink: ApplyTarget) => (db: Db) => void | Promise<void>;

/**
 * How a projection's batches reach its read model and its checkpoint. In the event store's own
 * database both commit in one transaction; in a target they cannot, so the target's transaction
 * goes first and drops what it has handled already, and the checkpoint follows.
 */
export interface Delivery {
  /**
   * Calls the projection's setup (in the target's transaction, with the handled-id table, for a
   * target; refused when that table went missing while the target is past `checkpoint`). A
   * rebuild, which empties the read model next, gives no checkpoint: nothing to guard.
   */
  setup(checkpoint?: number): Promise<void>;
  /**
   * Applies the events, then appends the unit's checkpoint (and its `also` events). A handler's
   * failure is a HandlerFailure whose index is into `events` (a target narrows a `batch`'s
   * failure down itself; the store's own database leaves a BatchFailure to the caller).
   */
  commit(events: readonly StoredEvent[], unit: Omit<CommitUnit, 'apply'>): Promise<AppendResult & { duplicates?: number }>;
  /** Finishes a rebuild or replay-from that was killed half-way (targets); its fault when the reset fails. */
  resume(): Promise<FaultInfo | null>;
}

/** The read model in the event store's own database: handlers and checkpoint in one transaction. */
function storeDelivery<Db>(store: ProjectionStore<Db>, projection: Projection<Db>, makeApply: MakeApply<Db>): Delivery {
  return {
    setup: () => retryTransient(store, async () => projection.setup(store.readModel)),
    commit: (events, unit) => commitWithRetry(store, { ...unit, apply: events.length > 0 ? makeApply(events, store) : undefined }),
    resume: async () => null,
  };
}

export function deliveryFor<Db>(
  store: ProjectionStore<Db>,
  projection: Projection<Db>,
  target: Target | undefined,
  makeApply: MakeApply<unknown>,
  fence?: Fence,
): Delivery {
  if (!target) return storeDelivery(store, projection, makeApply as MakeApply<Db>);
  return targetDelivery(store as ProjectionStore, projection as Projection, target, makeApply, fence);
}
