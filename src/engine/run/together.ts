import type { StoredEvent } from '../../core/events.js';
import { chain, guard, type Maybe } from '../../core/maybe.js';
import type { Batch, CommitUnit, ProjectionStore, ReadPoint, ResumeToken } from '../../ports/event-store.js';
import { applier } from '../apply.js';
import { LIFECYCLE, type CheckpointData } from '../checkpoints.js';
import { commitWithRetry } from '../retry.js';
import type { RunOptions } from '../types.js';
import { isLeaseLoss, type Member } from './member.js';
import type { Cohort, Step } from './pass.js';

/** A handler failed inside a shared batch; the cohort hands over to one-by-one runs. */
class GroupFailure extends Error {}

function unionOfTypes(members: readonly Member[]): string[] | null {
  const types = new Set<string>();
  for (const { projection } of members) {
    if (projection.types === null) return null;
    for (const type of projection.types) types.add(type);
  }
  return [...types];
}

/**
 * Several projections at the same place in the log, in one pass: each batch is read once, every
 * event goes to the projections that handle it, and all their checkpoints commit in the batch's
 * transaction. A handler that fails, or a lease lost, hands every one over to its own run, which
 * records faults and dead letters one by one from its last committed checkpoint.
 */
export class Together implements Cohort {
  readonly name: string;
  readonly types: readonly string[] | null;
  readonly signal: AbortSignal | undefined;
  private read = 0;

  constructor(
    private readonly store: ProjectionStore,
    private readonly members: readonly Member[],
    private readonly options: RunOptions,
  ) {
    this.name = members.map((m) => m.name).join(', ');
    this.types = unionOfTypes(members);
    // One transaction for all: a lease lost by any of them stops the pass.
    const signals = members.map((m) => m.signal).filter((s): s is AbortSignal => s !== undefined);
    this.signal = signals.length <= 1 ? signals[0] : AbortSignal.any(signals);
  }

  get point(): ReadPoint {
    return (this.members[0] as Member).point;
  }

  idle(resume: ResumeToken | undefined): void {
    for (const m of this.members) m.advance(m.point.after, resume, 0);
  }

  report(total: number | null): void {
    this.options.onProgress?.({ name: this.name, position: this.point.after, processed: this.read, total });
  }

  async commit(batch: Batch): Promise<Step> {
    const data: CheckpointData = { position: batch.scannedTo, resume: batch.resume };
    const handled = new Map<Member, number>();
    const [first, ...rest] = this.members as [Member, ...Member[]];
    const unit: CommitUnit = {
      ...first.stream.unit(LIFECYCLE.checkpoint, data, {
        apply: (db) => this.applyAll(db, batch.events, handled),
        also: rest.map((m) => m.stream.entry(LIFECYCLE.checkpoint, data)),
      }),
      fences: this.members.flatMap((m) => m.stream.fences),
    };
    try {
      await commitWithRetry(this.store, unit);
    } catch (error) {
      // Rolled back: alone, each finds its own failing event, or (its commit fenced again) says it lost its projection.
      if (error instanceof GroupFailure || isLeaseLoss(error)) return 'handoff';
      throw error;
    }
    for (const m of this.members) {
      m.stream.committed(data);
      m.advance(batch.scannedTo, batch.resume, handled.get(m) ?? 0);
    }
    this.read += batch.events.length;
    return 'next';
  }

  /** Each projection's share of the batch, one after the other, in the batch's transaction. */
  private applyAll(db: unknown, events: readonly StoredEvent[], handled: Map<Member, number>): Maybe<void> {
    handled.clear();
    let done: Maybe<void> = undefined;
    for (const m of this.members) {
      const mine = events.filter((e) => m.projection.handles(e.type));
      if (mine.length === 0) continue;
      done = chain(done, () =>
        chain(
          guard(
            () => applier(this.store, m.projection, mine, m.replayingUntil)(db),
            // A handler or batch failed (or returned a Promise): the one-by-one run finds the event.
            (error) => (this.store.isTransient(error) ? error : new GroupFailure()),
          ),
          () => void handled.set(m, mine.length),
        ),
      );
    }
    return done;
  }
}
