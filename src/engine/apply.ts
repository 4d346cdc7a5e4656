import { errorMessage } from '../core/errors.js';
import type { StoredEvent } from '../core/events.js';
import type { Projection, ProjectionContext } from '../core/projection.js';
import { isThenable } from './retry.js';

/**
 * What runs inside a read-model transaction: a batch's events applied by a projection's handlers or
 * by its `batch`. Kept apart from how the transaction reaches the store (run.ts, run-together.ts),
 * so a read model in another database applies the same way.
 */

/** Thrown inside a batch transaction to roll it back and say which event failed. */
export class HandlerFailure extends Error {
  constructor(
    readonly index: number,
    readonly original: unknown,
  ) {
    super(errorMessage(original));
  }
}

/**
 * A projection's `batch` threw: the transaction rolls back, and which of the events in
 * [start, end) is at fault is not known yet (`locateFailure` narrows it down).
 */
export class BatchFailure extends Error {
  constructor(
    readonly start: number,
    readonly end: number,
    readonly original: unknown,
  ) {
    super(errorMessage(original));
  }
}

/** Applies events; synchronous where the transaction cannot await. Throws HandlerFailure or BatchFailure. */
export type Apply<Db> = (db: Db) => void | Promise<void>;

export interface ApplyTarget {
  /** True when the transaction cannot span an await (SQLite): handlers and batches must be synchronous. */
  readonly synchronous: boolean;
  /** A lost connection or a busy database: the store's trouble, retried, never an event's fault. */
  isTransient(error: unknown): boolean;
}

const REPLAYING: ProjectionContext = Object.freeze({ replaying: true });
const LIVE: ProjectionContext = Object.freeze({ replaying: false });

/** The context of an event: replaying when a rebuild or replay-from had passed its position before. */
export const contextOf = (event: StoredEvent, replayingUntil: number): ProjectionContext =>
  event.position <= replayingUntil ? REPLAYING : LIVE;

const SYNC_HANDLER = 'the handler returned a Promise; handlers on the SQLite store must be synchronous';
const SYNC_BATCH = 'batch returned a Promise; batch on the SQLite store must be synchronous';

/**
 * The events of one `batch` call each: consecutive runs that share `context.replaying`, so a batch
 * that straddles the end of a replay is called twice and each call can trust its context.
 */
function runs(events: readonly StoredEvent[], replayingUntil: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < events.length; ) {
    const replaying = contextOf(events[i] as StoredEvent, replayingUntil).replaying;
    let j = i + 1;
    while (j < events.length && contextOf(events[j] as StoredEvent, replayingUntil).replaying === replaying) j++;
    out.push([i, j]);
    i = j;
  }
  return out;
}

/** The same events apart from a copy when the run is all of them (the common case). */
const part = (events: readonly StoredEvent[], start: number, end: number): readonly StoredEvent[] =>
  start === 0 && end === events.length ? events : events.slice(start, end);

/**
 * The apply of `events` for `projection`: each event to its handler, or the runs of events to
 * `batch`. Events are the projection's own (a per-event projection passes over types it has no
 * handler for). `replayingUntil` is the checkpoint's replay mark (0: nothing is replayed).
 */
export function applier<Db>(
  target: ApplyTarget,
  projection: Projection<Db>,
  events: readonly StoredEvent[],
  replayingUntil: number,
): Apply<Db> {
  const batch = projection.batch;
  if (batch) {
    const spans = runs(events, replayingUntil);
    if (target.synchronous) {
      return (db: Db): void => {
        for (const [start, end] of spans) {
          let result: unknown;
          try {
            result = batch(part(events, start, end), db, contextOf(events[start] as StoredEvent, replayingUntil));
          } catch (error) {
            throw new BatchFailure(start, end, error);
          }
          if (isThenable(result)) {
            // Nobody will await it: keep its rejection from crashing the process. No event is at
            // fault any more than another: the first one is named, as with a handler.
            Promise.resolve(result).catch(() => {});
            throw new HandlerFailure(start, new Error(SYNC_BATCH));
          }
        }
      };
    }
    return async (db: Db): Promise<void> => {
      for (const [start, end] of spans) {
        try {
          await batch(part(events, start, end), db, contextOf(events[start] as StoredEvent, replayingUntil));
        } catch (error) {
          if (target.isTransient(error)) throw error;
          throw new BatchFailure(start, end, error);
        }
      }
    };
  }
  if (target.synchronous) {
    return (db: Db): void => {
      for (let i = 0; i < events.length; i++) {
        const event = events[i] as StoredEvent;
        try {
          const result = projection.handlerFor(event.type)?.(event, db, contextOf(event, replayingUntil));
          if (isThenable(result)) {
            // Nobody will await it: keep its rejection from crashing the process.
            Promise.resolve(result).catch(() => {});
            throw new Error(SYNC_HANDLER);
          }
        } catch (error) {
          throw new HandlerFailure(i, error);
        }
      }
    };
  }
  return async (db: Db): Promise<void> => {
    for (let i = 0; i < events.length; i++) {
      const event = events[i] as StoredEvent;
      try {
        await projection.handlerFor(event.type)?.(event, db, contextOf(event, replayingUntil));
      } catch (error) {
        // A connection lost under the handler is the store's trouble, not the event's: retry the batch.
        if (target.isTransient(error)) throw error;
        throw new HandlerFailure(i, error);
      }
    }
  };
}

/**
 * Runs an apply in a transaction that is always rolled back; resolves to what it threw
 * (HandlerFailure or BatchFailure), or null when it went through. Other errors are thrown.
 */
export type Probe<Db> = (apply: Apply<Db>) => Promise<HandlerFailure | BatchFailure | null>;

/**
 * Narrows a failed `batch` down to its event by bisection over prefixes: the smallest prefix of the
 * events whose apply throws ends with the failing event. Prefixes, not halves, because a batch may
 * depend on the events before the failing one (a running total), and those commit with it in the
 * end. Each probe is a rolled-back transaction; about log2(n) of them, each applying at most n events.
 */
export async function locateFailure<Db>(
  failure: BatchFailure,
  applyOf: (events: readonly StoredEvent[]) => Apply<Db>,
  events: readonly StoredEvent[],
  probe: Probe<Db>,
): Promise<HandlerFailure> {
  // The events before `start` went through in the failed transaction; the whole run did not.
  let ok = failure.start;
  let failing = failure.end;
  let error: unknown = failure.original;
  while (failing - ok > 1) {
    const mid = ok + Math.floor((failing - ok) / 2);
    const outcome = await probe(applyOf(events.slice(0, mid)));
    if (outcome === null) {
      ok = mid;
    } else if (outcome instanceof HandlerFailure) {
      // A batch returning a Promise names its first event: nothing narrower to find.
      return outcome;
    } else {
      failing = mid;
      error = outcome.original;
    }
  }
  return new HandlerFailure(failing - 1, error);
}
