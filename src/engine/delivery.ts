import type { StoredEvent } from '../core/events.js';
import type { Projection } from '../core/projection.js';
import { EsError } from '../core/errors.js';
import { HANDLED_TABLE, handledIds } from '../drivers/handled/index.js';
import { handledMarks, unguardedPast } from '../drivers/handled/marks.js';
import type { AppendResult, CommitUnit, EventStore } from '../ports/event-store.js';
import type { Target } from '../ports/target.js';
import { crashPoint } from './crash-point.js';
import { targetLost } from './target-lost.js';
import { completeIntent } from './intent.js';
import { chain, guard } from './maybe.js';
import { commitWithRetry, retryTransient } from './retry.js';
import type { RunOptions } from './types.js';
import { BatchFailure, HandlerFailure, locateFailure, type ApplyTarget, type Probe } from './apply.js';
import type { FaultInfo } from './checkpoint.js';

/** Builds the function run inside the read model's transaction; it throws HandlerFailure or BatchFailure. */
export type MakeApply<Db> = (events: readonly StoredEvent[], sink: ApplyTarget) => (db: Db) => void | Promise<void>;

/** Some of a batch's ids were recorded by another transaction between the lookup and the insert. */
class RecordedMeanwhile extends Error {
  constructor(readonly count: number) {
    super(`${count} event(s) of the batch were handled meanwhile by another process; the batch is retried`);
  }
}

/** The target's transient errors, and a batch that lost a race on its handled ids: both worth a retry. */
const retriable = (target: Target) => ({
  isTransient: (error: unknown): boolean => error instanceof RecordedMeanwhile || target.isTransient(error),
});

/**
 * An id longer than the target's handled-id table holds fails its event before the transaction
 * (the events before it commit, as before a throwing handler): skippable, never a wedge.
 */
function refuseLongIds(target: Target, events: readonly StoredEvent[]): void {
  const max = target.maxIdBytes;
  if (max === undefined) return;
  const index = events.findIndex((e) => Buffer.byteLength(e.id) > max);
  if (index < 0) return;
  const bytes = Buffer.byteLength((events[index] as StoredEvent).id);
  throw new HandlerFailure(index, new Error(`the event id is ${bytes} bytes long; target ${target.display} records ids of at most ${max} bytes`));
}

/** es_handled was dropped while the target holds events past the checkpoint: exit 3, never applied twice. */
function missingHandled(name: string, target: Target, mark: number, checkpoint: number): EsError {
  return new EsError(
    'ENVIRONMENT',
    `${name}: target ${target.display} holds its events up to position ${mark}, past its checkpoint (${checkpoint}), ` +
      `but its table ${HANDLED_TABLE} is missing, so they would be applied twice; rebuild it: es project rebuild ${name}`,
  );
}

/** Thrown at the end of a probe's apply so that its target transaction rolls back. */
class ProbeDone extends Error {}

/** `locateFailure`'s probes in the target's own transactions, always rolled back. */
function targetProbe(target: Target): Probe<unknown> {
  return async (apply) => {
    const done = new ProbeDone();
    try {
      // Thrown, not a rejected Promise: a SQLite target's transaction refuses a Promise (and would commit).
      await retryTransient(target, () =>
        target.transaction((db) =>
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
    throw new Error('a probe of a target committed; it must always roll back');
  };
}

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

/** The handled-id tables and the projection's own, in the target; refused when es_handled went missing past the checkpoint. */
function setupTarget(target: Target, projection: Projection, checkpoint: number | undefined): Promise<void> {
  const { name } = projection;
  const setup = projection.setup as (db: unknown) => void | Promise<void>;
  return retryTransient(target, () =>
    target.transaction((db) =>
      chain(checkpoint === undefined ? null : unguardedPast(db, name, checkpoint), (mark) => {
        if (mark !== null) throw missingHandled(name, target, mark, checkpoint ?? 0);
        return chain(handledIds(db).ensure(), () => chain(handledMarks(db).ensure(), () => setup(db)));
      }),
    ),
  ).catch((error: unknown) => {
    throw targetLost(name, target, error);
  });
}

export function deliveryFor<Db>(
  store: EventStore<Db>,
  projection: Projection<Db>,
  target: Target | undefined,
  makeApply: MakeApply<unknown>,
  options: Pick<RunOptions, 'fenceFor'> = {},
): Delivery {
  if (!target) {
    return {
      setup: () => retryTransient(store, async () => projection.setup(store.readModel)),
      commit: (events, unit) =>
        commitWithRetry(store, { ...unit, apply: events.length > 0 ? makeApply(events, store) : undefined } as CommitUnit<Db>),
      resume: async () => null,
    };
  }
  const name = projection.name;
  return {
    setup: (checkpoint) => setupTarget(target, projection as Projection, checkpoint),
    async commit(events, unit) {
      let duplicates = 0;
      refuseLongIds(target, events);
      if (events.length > 0) {
        duplicates = await retryTransient(retriable(target), () => target.transaction((db) => applyOnce(db, events))).catch(async (error: unknown) => {
          if (!(error instanceof BatchFailure)) throw targetLost(name, target, error);
          // Which events the failed transaction applied: the ones not handled before (nothing else
          // records ids of this projection while its lock is held).
          const done = await target.withConnection((db) => handledIds(db).among(name, events.map((e) => e.id)));
          const fresh = events.filter((e) => !done.has(e.id));
          const located = await locateFailure(error, (part) => makeApply(part, target), fresh, targetProbe(target));
          throw new HandlerFailure(events.indexOf(fresh[located.index] as StoredEvent), located.original);
        });
        crashPoint('target-committed');
      }
      const appended = await commitWithRetry(store as EventStore, unit);
      crashPoint('checkpoint-appended');
      return { ...appended, duplicates };
    },
    resume: () => completeIntent(store as EventStore, projection as Projection, target, options),
  };

  /** In the target's transaction: the batch's handled ids in one query, the rest applied and recorded. */
  function applyOnce(db: unknown, events: readonly StoredEvent[]): number | Promise<number> {
    const ids = handledIds(db);
    return chain(ids.among(name, events.map((e) => e.id)), (done) => {
      const fresh = done.size === 0 ? events : events.filter((e) => !done.has(e.id));
      const applied =
        fresh.length === 0
          ? undefined
          : guard(
              () => makeApply(fresh, target as Target)(db),
              // The failing event's index, as the caller knows it: into the whole batch.
              (error: unknown) =>
                error instanceof HandlerFailure ? new HandlerFailure(events.indexOf(fresh[error.index] as StoredEvent), error.original) : error,
            );
      return chain(applied, () =>
        chain(ids.record(name, fresh.map((e) => ({ id: e.id, position: e.position }))), (recorded) => {
          // Another transaction recorded some of these ids after the lookup (a holder that lost its
          // lease while paused, still finishing its batch): this one applied them a second time.
          // Roll it back; the retry finds them handled.
          if (recorded !== fresh.length) throw new RecordedMeanwhile(fresh.length - recorded);
          const marked = fresh.length === 0 ? undefined : handledMarks(db).mark(name, Math.max(...fresh.map((e) => e.position)));
          return chain(marked, () => {
            crashPoint('target-before-commit');
            return events.length - fresh.length;
          });
        }),
      );
    });
  }
}
