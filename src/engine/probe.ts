import type { EventStore } from '../ports/event-store.js';
import { BatchFailure, HandlerFailure, type Apply, type Probe } from './apply.js';
import { isThenable, retryTransient } from './retry.js';

/** Thrown at the end of a probe's apply so that its transaction rolls back. */
class ProbeDone extends Error {}

/**
 * Probes in the event store's own transactions (`locateFailure`). The unit names the projection's
 * checkpoint stream with any version, but appends nothing: its apply always throws before the
 * append, so the transaction rolls back whatever the probe wrote. Fresh transactions rather than
 * savepoints, so the same narrowing works on any database a read model lives in without knowing its
 * savepoint dialect; a poison event is rare, and the probes cost about one batch's work in all.
 */
export function storeProbe<Db>(store: EventStore<Db>, streamId: string): Probe<Db> {
  return async (apply: Apply<Db>) => {
    const done = new ProbeDone();
    const rolledBack = (db: Db): void | Promise<void> => {
      const result = apply(db);
      if (isThenable(result)) {
        return Promise.resolve(result).then(() => {
          throw done;
        });
      }
      throw done;
    };
    try {
      await retryTransient(store, () =>
        store.commit({ apply: rolledBack, streamId, expectedVersion: 'any', event: { type: 'Probe', data: {} } }),
      );
    } catch (error) {
      if (error === done) return null;
      if (error instanceof HandlerFailure || error instanceof BatchFailure) return error;
      throw error;
    }
    throw new Error(`a probe of ${streamId} committed; it must always roll back`);
  };
}
