import { EsError } from '../../core/errors.js';
import type { StoredEvent } from '../../core/events.js';
import { chain, guard, type Maybe } from '../../core/maybe.js';
import type { Projection } from '../../core/projection.js';
import type { Fence, ProjectionStore } from '../../ports/event-store.js';
import type { Target } from '../../ports/target.js';
import { BatchFailure, HandlerFailure, locateFailure } from '../apply.js';
import { crashPoint } from '../crash-point.js';
import { completeIntent } from '../intent.js';
import { commitWithRetry, retryTransient } from '../retry.js';
import type { Delivery, MakeApply } from './index.js';
import { targetProbe } from './probe.js';
import { targetLost } from './target-lost.js';

/** The handled-id table's name, for messages. */
const HANDLED_TABLE = 'es_handled';

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

/**
 * The position up to which the target holds the projection's effects with no `es_handled` to
 * guard them, when that is past the checkpoint (the handled-id table was dropped): null when all
 * is well, including a first run on an empty target.
 */
function unguardedPast(target: Target, db: unknown, name: string, checkpoint: number): Maybe<number | null> {
  const marks = target.marks(db);
  return chain(marks.handledExists(), (present) => (present ? null : chain(marks.markOf(name), (mark) => (mark !== null && mark > checkpoint ? mark : null))));
}

/** The handled-id tables and the projection's own, in the target; refused when es_handled went missing past the checkpoint. */
function setupTarget(target: Target, projection: Projection, checkpoint: number | undefined): Promise<void> {
  const { name } = projection;
  const setup = projection.setup as (db: unknown) => void | Promise<void>;
  return retryTransient(target, () =>
    target.transaction((db) =>
      chain(checkpoint === undefined ? null : unguardedPast(target, db, name, checkpoint), (mark) => {
        if (mark !== null) throw missingHandled(name, target, mark, checkpoint ?? 0);
        return chain(target.handled(db).ensure(), () => chain(target.marks(db).ensure(), () => setup(db)));
      }),
    ),
  ).catch((error: unknown) => {
    throw targetLost(name, target, error);
  });
}

/** A read model in a target: its transaction (with the batch's handled ids) first, then the checkpoint. */
export function targetDelivery(store: ProjectionStore, projection: Projection, target: Target, makeApply: MakeApply<unknown>, fence?: Fence): Delivery {
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
          const done = await target.withConnection((db) =>
            target.handled(db).among(
              name,
              events.map((e) => e.id),
            ),
          );
          const fresh = events.filter((e) => !done.has(e.id));
          const located = await locateFailure(error, (part) => makeApply(part, target), fresh, targetProbe(target));
          throw new HandlerFailure(events.indexOf(fresh[located.index] as StoredEvent), located.original);
        });
        crashPoint('target-committed');
      }
      const appended = await commitWithRetry(store, unit);
      crashPoint('checkpoint-appended');
      return { ...appended, duplicates };
    },
    resume: () => completeIntent(store, projection, target, fence),
  };

  /** In the target's transaction: the batch's handled ids in one query, the rest applied and recorded. */
  function applyOnce(db: unknown, events: readonly StoredEvent[]): number | Promise<number> {
    const ids = target.handled(db);
    return chain(
      ids.among(
        name,
        events.map((e) => e.id),
      ),
      (done) => {
        const fresh = done.size === 0 ? events : events.filter((e) => !done.has(e.id));
        const applied =
          fresh.length === 0
            ? undefined
            : guard(
                () => makeApply(fresh, target)(db),
                // The failing event's index, as the caller knows it: into the whole batch.
                (error: unknown) =>
                  error instanceof HandlerFailure ? new HandlerFailure(events.indexOf(fresh[error.index] as StoredEvent), error.original) : error,
              );
        return chain(applied, () =>
          chain(
            ids.record(
              name,
              fresh.map((e) => ({ id: e.id, position: e.position })),
            ),
            (recorded) => {
              // Another transaction recorded some of these ids after the lookup (a holder that lost its
              // lease while paused, still finishing its batch): this one applied them a second time.
              // Roll it back; the retry finds them handled.
              if (recorded !== fresh.length) throw new RecordedMeanwhile(fresh.length - recorded);
              const marked = fresh.length === 0 ? undefined : target.marks(db).mark(name, Math.max(...fresh.map((e) => e.position)));
              return chain(marked, () => {
                crashPoint('target-before-commit');
                return events.length - fresh.length;
              });
            },
          ),
        );
      },
    );
  }
}
