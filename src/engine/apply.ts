import { errorMessage } from '../core/errors.js';
import type { StoredEvent } from '../core/events.js';
import type { Projection, ProjectionContext } from '../core/projection.js';

// What runs inside a read-model transaction: a batch's events applied by a projection's handlers or
// by its `batch`, the same way whichever database the read model lives in.
import { isThenable } from '../core/maybe.js';

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
export const contextOf = (event: StoredEvent, replayingUntil: number): ProjectionContext => (event.position <= replayingUntil ? REPLAYING : LIVE);

const SYNC_HANDLER = "the handler returned a Promise; handlers must be synchronous here (the read model's transactions cannot span an await)";
const SYNC_BATCH = "batch returned a Promise; batch must be synchronous here (the read model's transactions cannot span an await)";

/**
 * The events of one `batch` call each: consecutive runs that share `context.replaying`, so a batch
 * that straddles the end of a replay is called twice and each call can trust its context.
 */
function runs(events: readonly StoredEvent[], replayingUntil: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < events.length;) {
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

/** How a step of an apply failed: it threw (or rejected), or it returned a Promise where none may be awaited. */
interface Failures {
  threw(index: number, error: unknown): Error;
  promised(index: number): Error;
}

/**
 * Runs `step` over `count` items in order, synchronously for as long as the steps are, and awaiting
 * from the first step that returns a Promise on; on a synchronous sink (SQLite) such a step fails.
 * One loop for handlers and batches alike: the common synchronous case makes no Promise at all.
 */
function eachStep(count: number, step: (index: number) => unknown, sink: ApplyTarget, failures: Failures): void | Promise<void> {
  const fail = (index: number, error: unknown): unknown => (sink.isTransient(error) ? error : failures.threw(index, error));
  for (let i = 0; i < count; i++) {
    let result: unknown;
    try {
      result = step(i);
    } catch (error) {
      throw fail(i, error);
    }
    if (!isThenable(result)) continue;
    if (sink.synchronous) {
      // Nobody will await it: keep its rejection from crashing the process.
      Promise.resolve(result).catch(() => {});
      throw failures.promised(i);
    }
    return finishAsync(i, result, count, step, fail);
  }
}

async function finishAsync(
  from: number,
  first: PromiseLike<unknown>,
  count: number,
  step: (index: number) => unknown,
  fail: (index: number, error: unknown) => unknown,
): Promise<void> {
  let result: unknown = first;
  for (let i = from; i < count;) {
    try {
      await result;
      i += 1;
      if (i < count) result = step(i);
    } catch (error) {
      throw fail(i, error);
    }
  }
}

/**
 * The apply of `events` for `projection`: each event to its handler, or the runs of events to
 * `batch`. Events are the projection's own (a per-event projection passes over types it has no
 * handler for). `replayingUntil` is the checkpoint's replay mark (0: nothing is replayed).
 */
export function applier<Db>(sink: ApplyTarget, projection: Projection<Db>, events: readonly StoredEvent[], replayingUntil: number): Apply<Db> {
  const batch = projection.batch;
  if (batch) {
    const spans = runs(events, replayingUntil);
    const failures: Failures = {
      threw: (i, error) => new BatchFailure(spans[i]![0], spans[i]![1], error),
      // No event is at fault any more than another: the first one is named, as with a handler.
      promised: (i) => new HandlerFailure(spans[i]![0], new Error(SYNC_BATCH)),
    };
    return (db: Db) =>
      eachStep(
        spans.length,
        (i) => {
          const [start, end] = spans[i] as [number, number];
          return batch(part(events, start, end), db, contextOf(events[start] as StoredEvent, replayingUntil));
        },
        sink,
        failures,
      );
  }
  const failures: Failures = {
    threw: (i, error) => new HandlerFailure(i, error),
    promised: (i) => new HandlerFailure(i, new Error(SYNC_HANDLER)),
  };
  return (db: Db) =>
    eachStep(
      events.length,
      (i) => {
        const event = events[i] as StoredEvent;
        return projection.handlerFor(event.type)?.(event, db, contextOf(event, replayingUntil));
      },
      sink,
      failures,
    );
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
