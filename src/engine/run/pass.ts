import { sleep } from '../../core/sleep.js';
import type { Batch, ProjectionStore, ReadPoint, ResumeToken } from '../../ports/event-store.js';
import type { FaultInfo } from '../checkpoints.js';
import type { EsError } from '../../core/errors.js';
import { betweenBatches, retryTransient } from '../retry.js';
import type { RunOptions } from '../types.js';
import { isLeaseLoss } from './member.js';

/** How long a run without --follow waits for events an older open transaction holds back. */
const HELD_BACK_WAIT_MS = 5000;
const HELD_BACK_POLL_MS = 50;

/** What committing a batch came to: on to the next, look at the signal again, or the end of the pass. */
export type Step = 'next' | 'again' | 'handoff' | { faulted: FaultInfo };

/** How a pass ended. `handoff`: its projections carry on alone (a shared batch failed or lost a lease). */
export type PassEnd = 'caught-up' | 'held-back' | 'interrupted' | 'handoff' | { faulted: FaultInfo } | { locked: EsError };

/** The projections a pass reads for (one, or several at the same place) and how it commits for them. */
export interface Cohort {
  readonly name: string;
  readonly point: ReadPoint;
  readonly types: readonly string[] | null;
  readonly signal: AbortSignal | undefined;
  /** The furthest point the pass may read, asked before each read; none: the head. */
  until?(): Promise<ReadPoint>;
  /** An empty read moved the store's token: kept in memory (saving it would write a checkpoint at every poll). */
  idle(resume: ResumeToken | undefined): void;
  commit(batch: Batch): Promise<Step>;
  /** Progress after a batch: what was handled so far. */
  report(total: number | null): void;
}

/** Reads batches, and the next one while this one commits when this one is full (a backlog). */
class Reader {
  private ahead: Promise<Batch> | null = null;

  constructor(
    private readonly store: ProjectionStore,
    private readonly cohort: Cohort,
    private readonly limit: number,
  ) {}

  read(): Promise<Batch> {
    const batch = this.ahead ?? this.fetch(this.cohort.point);
    this.ahead = null;
    return batch;
  }

  /** A follower at the head waits for notifications instead; the read is dropped if the commit does not go as planned. */
  readAhead(batch: Batch): void {
    if (batch.events.length < this.limit) return;
    this.ahead = this.fetch({ after: batch.scannedTo, resume: batch.resume });
    this.ahead.catch(() => {});
  }

  drop(): void {
    this.ahead = null;
  }

  private async fetch(point: ReadPoint): Promise<Batch> {
    const { types } = this.cohort;
    const until = await this.cohort.until?.();
    return retryTransient(this.store, () => this.store.readBatch({ ...point, types, limit: this.limit, ...(until ? { until } : {}) }));
  }
}

/**
 * After an empty read in a run without --follow: committed events an older transaction still holds
 * back (a store that reads in commit order) are waited for a little, then the run says behind.
 */
class HeldBack {
  private since: number | undefined;

  constructor(
    private readonly store: ProjectionStore,
    private readonly cohort: Cohort,
    private readonly options: RunOptions,
  ) {}

  /** True to read again; false when nothing is pending, or when it gave up waiting (then `gaveUp`). */
  gaveUp = false;

  async waitMore(): Promise<boolean> {
    const { point, types, name } = this.cohort;
    const until = await this.cohort.until?.();
    const { count } = await retryTransient(this.store, () => this.store.pending({ ...point, types, ...(until ? { upTo: until.after } : {}) }));
    if (count === 0) return false;
    this.since ??= performance.now();
    const waitedMs = performance.now() - this.since;
    if (waitedMs < HELD_BACK_WAIT_MS && !this.cohort.signal?.aborted) {
      await sleep(HELD_BACK_POLL_MS, this.cohort.signal);
      return true;
    }
    this.gaveUp = true;
    this.options.onIncident?.({ kind: 'held-back', name, pending: count, waitedMs: Math.round(waitedMs) });
    return false;
  }
}

/** Reads and commits batches for a cohort until the head (or for ever, with --follow), a signal or a fault. */
export async function runPass(store: ProjectionStore, cohort: Cohort, options: RunOptions): Promise<PassEnd> {
  const reader = new Reader(store, cohort, options.batchSize);
  const heldBack = new HeldBack(store, cohort, options);
  const cap = options.countTotal ? await cohort.until?.() : undefined;
  const total = options.countTotal ? (await store.pending({ ...cohort.point, types: cohort.types, ...(cap ? { upTo: cap.after } : {}) })).count : null;
  cohort.report(total);
  try {
    for (;;) {
      await betweenBatches(store, cohort.signal);
      if (cohort.signal?.aborted) return 'interrupted';
      const batch = await reader.read();
      if (batch.events.length === 0 && batch.scannedTo <= cohort.point.after) {
        cohort.idle(batch.resume);
        if (options.follow) await store.waitForAppend(options.pollMs ?? 25, cohort.signal);
        else if (!(await heldBack.waitMore())) return heldBack.gaveUp ? 'held-back' : 'caught-up';
        continue;
      }
      reader.readAhead(batch);
      const step = await cohort.commit(batch);
      if (step !== 'next') reader.drop();
      if (step === 'handoff' || typeof step === 'object') return step;
      cohort.report(total);
    }
  } catch (error) {
    // Another process took the lease over (or moved the checkpoint): nothing more was committed.
    if (isLeaseLoss(error)) return { locked: error };
    throw error;
  }
}
