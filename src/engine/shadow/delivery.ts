import { EsError } from '../../core/errors.js';
import type { StoredEvent } from '../../core/events.js';
import { chain } from '../../core/maybe.js';
import type { Projection } from '../../core/projection.js';
import type { ProjectionStore, ShadowMark, ShadowSpace } from '../../ports/event-store.js';
import { BatchFailure, locateFailure } from '../apply.js';
import type { Delivery, MakeApply } from '../delivery/index.js';
import { targetProbe } from '../delivery/probe.js';
import { commitWithRetry, retryTransient } from '../retry.js';

/**
 * A copy's batches: the handlers' writes and the copy's mark in one transaction of the copy's
 * database (so each event takes effect there exactly once), then the copy's checkpoint stream. The
 * mark moves only from where this process left it: a second builder of the same copy is refused.
 */
export function copyDelivery(store: ProjectionStore, projection: Projection, space: ShadowSpace, start: ShadowMark, makeApply: MakeApply<unknown>): Delivery {
  let at: ShadowMark = start;
  const moved = () =>
    new EsError('LOCKED', `${projection.name}: its copy in ${space.display} was moved on by another process; this run stopped`, {
      details: { moved: true, projection: projection.name },
    });
  return {
    setup: () => retryTransient(space, () => space.transaction((db) => projection.setup(db))),
    async commit(events, unit) {
      const data = unit.event.data as { position: number; cursor?: unknown };
      const mark: ShadowMark = {
        id: at.id,
        version: projection.version,
        position: data.position,
        ...(data.cursor === undefined ? {} : { cursor: data.cursor }),
      };
      const apply = events.length > 0 ? makeApply(events, space) : null;
      await retryTransient(space, () =>
        space.transaction((db) =>
          chain(apply?.(db), () =>
            chain(space.record(db, mark, at), (recorded) => {
              if (!recorded) throw moved();
            }),
          ),
        ),
      ).catch(async (error: unknown) => {
        if (!(error instanceof BatchFailure)) throw error;
        throw await locateFailure(error, (part: readonly StoredEvent[]) => makeApply(part, space), events, targetProbe(space));
      });
      at = mark;
      return commitWithRetry(store, unit);
    },
    resume: async () => null,
  };
}
