import { EsError, errorMessage, isEsError } from '../core/errors.js';
import type { ExpectedVersion, StoredEvent } from '../core/events.js';
import type { Projection } from '../core/projection.js';
import type { Batch, CommitUnit, Cursor, EventStore } from '../ports/event-store.js';
import {
  CHECKPOINT_KEEP,
  LIFECYCLE,
  checkpointStream,
  deadLetterStream,
  loadCheckpoint,
  replayMark,
  type FaultInfo,
} from './checkpoint.js';
import { BatchFailure, HandlerFailure, applier, locateFailure } from './apply.js';
import { storeProbe } from './probe.js';
import type { RunOptions, RunResult } from './types.js';
import { fault } from './results.js';
import { betweenBatches, retryTransient, sleep, yieldToEventLoop } from './retry.js';
import { deliveryFor } from './delivery.js';
import { createPublisher, type Publisher } from '../brokers/publisher.js';
import { fenced, isLeaseLoss } from './fences.js';

/** How long a run without --follow waits for events an older open transaction holds back. */
const HELD_BACK_WAIT_MS = 5000;
const HELD_BACK_POLL_MS = 50;

/** With notifications (PostgreSQL's LISTEN), polling is only the fallback for a lost one. */
const NOTIFIED_POLL_MS = 1000;

function lostCheckpoint(name: string, error: unknown): unknown {
  if ((error as { code?: unknown }).code !== 'CONFLICT') return error;
  return new EsError('LOCKED', `the checkpoint of "${name}" was moved by another process; this run stopped`, {
    cause: error,
    details: { moved: true, projection: name },
  });
}

/** The commit-order cursor, saved beside the position where the store has one. */
const saved = (cursor: Cursor | undefined): { cursor?: Cursor } => (cursor ? { cursor } : {});

export function faultOf(event: StoredEvent, error: unknown): FaultInfo {
  return { message: errorMessage(error), position: event.position, eventId: event.id, type: event.type };
}

/**
 * Catches one projection up: from its checkpoint to the head (and on, with `follow`). Each batch's
 * handler writes and its checkpoint event commit in one transaction. A handler that throws rolls its
 * batch back; the events before it are then committed together with a `Faulted` event.
 */
export async function runProjection<Db>(
  store: EventStore<Db>,
  projection: Projection<Db>,
  options: RunOptions,
): Promise<RunResult> {
  if (!projection.publish) return catchUp(store, projection, options, null);
  const { name } = projection;
  const publisher = createPublisher(projection.publish, {
    onDown: (message, retryInMs) => options.onIncident?.({ kind: 'broker-down', name, message, retryInMs }),
    onBack: () => options.onIncident?.({ kind: 'broker-back', name }),
  });
  try {
    return await catchUp(store, projection, options, publisher);
  } finally {
    await publisher.close();
  }
}

/**
 * `runProjection`'s loop. With a publisher, each batch is published first and commits only as far
 * as the broker acknowledged it: a checkpoint never passes an unacknowledged event.
 */
async function catchUp<Db>(
  store: EventStore<Db>,
  projection: Projection<Db>,
  options: RunOptions,
  publisher: Publisher | null,
): Promise<RunResult> {
  const started = performance.now();
  const streamId = checkpointStream(projection.name);
  // A read model in another database: its own transaction, then the checkpoint (see delivery.ts).
  const delivery = deliveryFor(
    store,
    projection,
    options.targets?.get(projection.name),
    (events, sink) => applier(sink, projection as Projection<unknown>, events, replayingUntil),
    options,
  );
  const unfinished = await delivery.resume();
  const checkpoint = await loadCheckpoint(store, projection.name);
  const from = checkpoint.position;
  const result = (state: RunResult['state'], extra: Partial<RunResult> = {}): RunResult => ({
    name: projection.name,
    from,
    to: position,
    processed,
    durationMs: Math.round(performance.now() - started),
    state,
    error: null,
    interrupted: false,
    deadLettered: 0,
    ...extra,
  });
  let position = from;
  let cursor = checkpoint.cursor;
  let processed = 0;
  // Where a rebuild or replay-from had been: events up to it are replayed (context.replaying).
  const replayingUntil = checkpoint.replayingUntil;
  if (unfinished) return result('faulted', { error: unfinished });
  if (checkpoint.version !== null && checkpoint.version !== projection.version) return result('stale-version');

  try {
    await delivery.setup(from);
  } catch (error) {
    // A target that stayed unreachable through the retries is the environment's failure (exit 3,
    // and a follower tries again later), not a fault of the projection's code.
    if (isEsError(error) && error.code === 'ENVIRONMENT') throw error;
    return result('faulted', { error: fault(`setup failed: ${errorMessage(error)}`) });
  }

  let expected: ExpectedVersion = checkpoint.streamVersion === 0 ? 'no-stream' : checkpoint.streamVersion;
  let deadLettered = 0;
  // The fault this run starts from, until the projection gets past its event.
  let faultedAt = checkpoint.fault;
  const advanced = (): void => {
    if (faultedAt === null || position < (faultedAt.position ?? position)) return;
    options.onIncident?.({ kind: 'recovered', name: projection.name, position, fault: faultedAt });
    faultedAt = null;
  };
  const total = options.countTotal ? (await store.pending(position, projection.types, cursor)).count : null;
  const report = (): void => options.onProgress?.({ name: projection.name, position, processed, total });
  const commit = async (
    events: readonly StoredEvent[],
    type: string,
    data: Record<string, unknown>,
    also?: CommitUnit['also'],
  ): Promise<void> => {
    const mark = replayMark(replayingUntil, data.position as number);
    const appended = await delivery.commit(events, {
      streamId,
      expectedVersion: expected,
      event: { type, data: { ...data, version: projection.version, ...mark } },
      keep: CHECKPOINT_KEEP,
      also,
      ...fenced(options, [projection.name]),
    }).catch(async (error: unknown) => {
      // A set-based projection's batch threw: find its event, then go on as for a failed handler.
      if (error instanceof BatchFailure) {
        const applyOf = (part: readonly StoredEvent[]) => applier(store, projection, part, replayingUntil);
        throw await locateFailure(error, applyOf, events, storeProbe(store, streamId));
      }
      throw lostCheckpoint(projection.name, error);
    });
    expected = appended.version;
    // A target drops events it had handled already (a redelivery): they were not handed to handlers.
    processed -= appended.duplicates ?? 0;
  };

  /**
   * After a handler failed at `failure.index` (its batch rolled back): commits the events before it
   * and either records the fault (stop) or dead-letters the event and moves past it (skip).
   * Returns the fault when the projection must stop.
   */
  const settleFailure = async (
    events: readonly StoredEvent[],
    cursors: readonly Cursor[] | undefined,
    failure: HandlerFailure,
  ): Promise<FaultInfo | null> => {
    const good = events.slice(0, failure.index);
    const failed = events[failure.index] as StoredEvent;
    const failedWith = faultOf(failed, failure.original);
    const lastGood = good.length > 0 ? (good[good.length - 1] as StoredEvent).position : position;
    const lastGoodCursor = failure.index > 0 ? cursors?.[failure.index - 1] : cursor;
    const failedCursor = cursors?.[failure.index];
    try {
      if (options.onError === 'skip') {
        const letter = { type: 'DeadLetter', data: { projection: projection.name, event: failed, error: failedWith } };
        await commit(good, LIFECYCLE.checkpoint, { position: failed.position, ...saved(failedCursor) }, [
          { streamId: deadLetterStream(projection.name), event: letter },
        ]);
      } else {
        await commit(good, LIFECYCLE.faulted, { position: lastGood, ...saved(lastGoodCursor), error: failedWith });
      }
    } catch (again) {
      if (!(again instanceof HandlerFailure)) throw again;
      // A handler that passed the first time failed the second: keep the checkpoint where it was.
      const first = faultOf(events[again.index] as StoredEvent, again.original);
      await commit([], LIFECYCLE.faulted, { position, ...saved(cursor), error: first });
      return first;
    }
    processed += good.length;
    if (options.onError === 'skip') {
      position = failed.position;
      cursor = failedCursor;
      deadLettered += 1;
      options.onIncident?.({ kind: 'dead-letter', name: projection.name, stream: deadLetterStream(projection.name), fault: failedWith });
      advanced();
      report();
      return null;
    }
    position = lastGood;
    cursor = lastGoodCursor;
    report();
    return failedWith;
  };

  const pollMs = options.pollMs ?? 25;
  report();
  const readNext = (after: number, from: Cursor | undefined): Promise<Batch> =>
    retryTransient(store, () =>
      store.readBatch({ after, types: projection.types, limit: options.batchSize, ...(from ? { cursor: from } : {}) }),
    );
  let prefetched: Promise<Batch> | null = null;
  // Since when committed events have been held back by an older transaction (runs without --follow).
  let heldSince: number | undefined;
  let heldBack = false;
  try {
    batches: for (;;) {
      await betweenBatches(store, options.signal);
      if (options.signal?.aborted) {
        // Stopping is how --follow ends: say whether it had caught up, not merely that it stopped.
        const caughtUp = options.follow && (await store.pending(position, projection.types, cursor)).count === 0;
        return result(caughtUp ? 'up-to-date' : 'behind', { interrupted: true, deadLettered });
      }
      const batch = await (prefetched ?? readNext(position, cursor));
      prefetched = null;
      if (batch.events.length === 0 && batch.scannedTo <= position) {
        // Nothing new. A commit-order cursor may still have moved past other transactions: keep that
        // in memory (saving it would write a checkpoint at every poll on a busy database).
        cursor = batch.cursor ?? cursor;
        if (!options.follow) {
          // On a commit-order store an older transaction still open anywhere in the database keeps
          // events committed after it unreadable: wait for it a little, then say behind, not up-to-date.
          if (store.commitOrder) {
            const { count } = await retryTransient(store, () => store.pending(position, projection.types, cursor));
            if (count > 0) {
              heldSince ??= performance.now();
              const waitedMs = performance.now() - heldSince;
              if (waitedMs < HELD_BACK_WAIT_MS && !options.signal?.aborted) {
                await sleep(HELD_BACK_POLL_MS, options.signal);
                continue;
              }
              heldBack = true;
              options.onIncident?.({ kind: 'held-back', name: projection.name, pending: count, waitedMs: Math.round(waitedMs) });
            }
          }
          break;
        }
        await (store.waitForAppend ? store.waitForAppend(NOTIFIED_POLL_MS, options.signal) : sleep(pollMs, options.signal));
        continue;
      }
      // An async store reads the next batch while this one commits, so a rebuild is not a sum of
      // round trips. Only when this batch is full (a backlog): a follower at the head waits for
      // notifications instead. The read is thrown away if the commit does not go as planned.
      if (!store.synchronous && batch.events.length >= options.batchSize) {
        prefetched = readNext(batch.scannedTo, batch.cursor);
        prefetched.catch(() => {});
      }
      let events = batch.events;
      let cursors = batch.cursors;
      for (;;) {
        try {
          if (publisher) {
            const sent = await publisher.publish(events, options.signal);
            // Refused by the broker: that event's fault, handled like a throwing handler's.
            if (sent.fault) throw new HandlerFailure(sent.fault.index, sent.fault.error);
            if (sent.acked < events.length) {
              // Stopped by a signal while the broker was away: checkpoint what it acknowledged.
              prefetched = null;
              if (sent.acked > 0) {
                const last = events[sent.acked - 1] as StoredEvent;
                const lastCursor = cursors?.[sent.acked - 1];
                await commit(events.slice(0, sent.acked), LIFECYCLE.checkpoint, { position: Math.max(position, last.position), ...saved(lastCursor) });
                position = Math.max(position, last.position);
                cursor = lastCursor ?? cursor;
                processed += sent.acked;
                advanced();
                report();
              }
              continue batches;
            }
          }
          // On a commit-order store a batch can hold events below the position already shown (a
          // newer transaction committed smaller positions): the position shown never goes back.
          await commit(events, LIFECYCLE.checkpoint, { position: Math.max(position, batch.scannedTo), ...saved(batch.cursor) });
          break;
        } catch (error) {
          prefetched = null;
          if (!(error instanceof HandlerFailure)) throw error;
          const stoppedBy = await settleFailure(events, cursors, error);
          if (stoppedBy) return result('faulted', { error: stoppedBy, deadLettered });
          // Dead-lettered: go on with the rest of this batch. Reading the batch again after each
          // poison event made a run of them cost a full batch read apiece.
          events = events.slice(error.index + 1);
          cursors = cursors?.slice(error.index + 1);
          await yieldToEventLoop();
          if (options.signal?.aborted) continue batches;
        }
      }
      position = Math.max(position, batch.scannedTo);
      cursor = batch.cursor;
      processed += events.length;
      advanced();
      report();
    }
    return result(heldBack ? 'behind' : 'up-to-date', { deadLettered });
  } catch (error) {
    // Another process took the lease over (or moved the checkpoint): nothing more was committed.
    // Said in the result, with what this run did before, so a run of several projections goes on
    // with the others and reports this one as locked.
    if (isLeaseLoss(error)) {
      return result('behind', { interrupted: true, deadLettered, lostLease: error.message });
    }
    throw error;
  }
}
