import { chain } from '../../core/maybe.js';
import type { ProjectionStore } from '../../ports/event-store.js';
import type { Target } from '../../ports/target.js';
import { BatchFailure, HandlerFailure, type Apply, type Probe } from '../apply.js';
import { retryTransient } from '../retry.js';

/** Thrown at the end of a probe's apply so that its transaction rolls back. */
class ProbeDone extends Error {}

/**
 * Runs `transaction` with an apply that always throws at its end, so it rolls back whatever the
 * probe wrote; resolves to the apply's HandlerFailure or BatchFailure, or null when it went through.
 * Thrown, not a rejected Promise: a synchronous transaction refuses a Promise (and would commit).
 */
async function rolledBack<Db>(
  retrier: { isTransient(error: unknown): boolean },
  apply: Apply<Db>,
  transaction: (apply: (db: Db) => unknown) => Promise<unknown>,
): Promise<HandlerFailure | BatchFailure | null> {
  const done = new ProbeDone();
  try {
    await retryTransient(retrier, () =>
      transaction((db) =>
        chain(apply(db), () => {
          throw done;
        }),
      ),
    );
  } catch (error) {
    if (error === done) return null;
    if (error instanceof HandlerFailure || error instanceof BatchFailure) return error;
    throw error;
  }
  throw new Error('a probe committed; it must always roll back');
}

/**
 * Probes in the event store's own transactions (`locateFailure`). The unit names the projection's
 * checkpoint stream with any version, but appends nothing: its apply always throws before the
 * append. Fresh transactions rather than savepoints, so the same narrowing works on any database a
 * read model lives in; a poison event is rare, and the probes cost about one batch's work in all.
 */
export function storeProbe<Db>(store: ProjectionStore<Db>, streamId: string): Probe<Db> {
  return (apply) =>
    rolledBack(store, apply, (rollingBack) =>
      store.commit({ apply: rollingBack as Apply<Db>, streamId, expectedVersion: 'any', event: { type: 'Probe', data: {} } }),
    );
}

/** `locateFailure`'s probes in a target's own transactions, always rolled back. */
export function targetProbe(target: Pick<Target, 'isTransient' | 'transaction'>): Probe<unknown> {
  return (apply) => rolledBack(target, apply, (rollingBack) => target.transaction(rollingBack));
}
