import type { StoredEvent } from '../../core/events.js';
import { yieldToEventLoop } from '../../core/sleep.js';
import type { Batch, ProjectionStore, ResumeToken } from '../../ports/event-store.js';
import { HandlerFailure } from '../apply.js';
import { LIFECYCLE, deadLetterStream, type FaultInfo } from '../checkpoints.js';
import type { RunOptions, RunResult } from '../types.js';
import { faultOf, type Member } from './member.js';
import { runPass, type Cohort, type Step } from './pass.js';

/**
 * One projection's pass: each batch is published first (when it publishes) and commits only as far
 * as the broker acknowledged it, then its read-model writes and its checkpoint commit as one unit. A
 * handler that throws rolls its batch back; the events before it then commit with a `Faulted` event
 * (on-error stop), or with the event moved to the dead-letter stream (skip), and the rest go on.
 */
class Alone implements Cohort {
  readonly signal: AbortSignal | undefined;

  constructor(
    private readonly member: Member,
    private readonly options: RunOptions,
  ) {
    this.signal = member.signal;
  }

  get name(): string {
    return this.member.name;
  }
  get point() {
    return this.member.point;
  }
  get types() {
    return this.member.projection.types;
  }
  get until() {
    const lane = this.member.lane;
    return lane ? () => lane.until() : undefined;
  }
  idle(resume: ResumeToken | undefined): void {
    this.member.advance(this.member.point.after, resume, 0);
  }

  report(total: number | null): void {
    const { name, point, processed } = this.member;
    this.options.onProgress?.({ name, position: point.after, processed, total });
  }

  async commit(batch: Batch): Promise<Step> {
    const m = this.member;
    for (let start = 0; ;) {
      const events = start === 0 ? batch.events : batch.events.slice(start);
      try {
        const sent = await m.publisher.publish(events, this.signal);
        // Refused by the broker: that event's fault, handled like a throwing handler's.
        if (sent.fault) throw new HandlerFailure(sent.fault.index, sent.fault.error);
        if (sent.acked < events.length) return await this.commitAcked(batch, start, sent.acked);
        // On a store that reads in commit order a batch can hold events below the position already
        // shown (a newer transaction committed smaller positions): the position shown never goes back.
        const after = Math.max(m.point.after, batch.scannedTo);
        await m.commit(events, LIFECYCLE.checkpoint, { position: after, resume: batch.resume });
        m.advance(after, batch.resume, events.length);
        return 'next';
      } catch (error) {
        if (!(error instanceof HandlerFailure)) throw error;
        const stoppedBy = await this.settle(batch, start, events, error);
        if (stoppedBy) return { faulted: stoppedBy };
        // Dead-lettered: go on with the rest of this batch (reading it again cost a batch per poison event).
        start += error.index + 1;
        await yieldToEventLoop();
        if (this.signal?.aborted) return 'again';
      }
    }
  }

  /** Stopped by a signal while the broker was away: checkpoint what it acknowledged. */
  private async commitAcked(batch: Batch, start: number, acked: number): Promise<Step> {
    if (acked === 0) return 'again';
    const m = this.member;
    const last = batch.events[start + acked - 1] as StoredEvent;
    const after = Math.max(m.point.after, last.position);
    const resume = batch.resumeAfter(start + acked - 1);
    await m.commit(batch.events.slice(start, start + acked), LIFECYCLE.checkpoint, { position: after, resume });
    m.advance(after, resume, acked);
    return 'again';
  }

  /**
   * After a handler failed at `failure.index` of `events` (from `start` of the batch; rolled back):
   * commits the events before it and either records the fault (stop) or dead-letters the event and
   * moves past it (skip). Returns the fault when the projection must stop.
   */
  private async settle(batch: Batch, start: number, events: readonly StoredEvent[], failure: HandlerFailure): Promise<FaultInfo | null> {
    const m = this.member;
    const good = events.slice(0, failure.index);
    const failed = events[failure.index] as StoredEvent;
    const failedWith = faultOf(failed, failure.original);
    const skip = this.options.onError === 'skip';
    const lastGood = good.length > 0 ? (good[good.length - 1] as StoredEvent).position : m.point.after;
    const lastGoodResume = failure.index > 0 ? batch.resumeAfter(start + failure.index - 1) : m.point.resume;
    const failedResume = batch.resumeAfter(start + failure.index);
    try {
      if (skip) {
        const letter = { type: 'DeadLetter', data: { projection: m.name, event: failed, error: failedWith } };
        const also = [{ streamId: deadLetterStream(m.name), event: letter }];
        await m.commit(good, LIFECYCLE.checkpoint, { position: failed.position, resume: failedResume }, also);
      } else {
        await m.commit(good, LIFECYCLE.faulted, { position: lastGood, resume: lastGoodResume, error: failedWith });
      }
    } catch (again) {
      if (!(again instanceof HandlerFailure)) throw again;
      // A handler that passed the first time failed the second: keep the checkpoint where it was.
      const first = faultOf(events[again.index] as StoredEvent, again.original);
      await m.commit([], LIFECYCLE.faulted, { position: m.point.after, resume: m.point.resume, error: first });
      return first;
    }
    if (!skip) {
      m.advance(lastGood, lastGoodResume, good.length);
      return failedWith;
    }
    m.deadLettered += 1;
    this.options.onIncident?.({ kind: 'dead-letter', name: m.name, stream: deadLetterStream(m.name), fault: failedWith });
    m.advance(failed.position, failedResume, good.length);
    return null;
  }
}

/** Runs one projection to the head (and on, with --follow), and says how it ended. */
export async function runAlone(store: ProjectionStore, member: Member, options: RunOptions): Promise<RunResult> {
  if (member.signal?.aborted) return member.interrupted('behind');
  const end = await runPass(store, new Alone(member, options), options);
  if (end === 'interrupted') {
    // Stopping is how --follow ends: say whether it had caught up, not merely that it stopped.
    const { point, projection } = member;
    const cap = await member.lane?.until();
    const caughtUp = options.follow && (await store.pending({ ...point, types: projection.types, ...(cap ? { upTo: cap.after } : {}) })).count === 0;
    return member.interrupted(caughtUp ? 'up-to-date' : 'behind');
  }
  if (end === 'caught-up') return member.result('up-to-date');
  if (end === 'held-back') return member.result('behind');
  if (end === 'handoff') throw new Error('a projection running alone has nobody to hand over to');
  if ('faulted' in end) return member.result('faulted', { error: end.faulted });
  return member.lostTo(end.locked);
}
