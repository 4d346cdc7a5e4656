import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { errorMessage } from '../core/errors.js';
import type { Projection } from '../core/projection.js';
import { sleep } from '../core/sleep.js';
import type { EventStore, LeaseRow, WorkerRow } from '../ports/event-store.js';
import { loadCheckpoint } from './checkpoints.js';
import { LeaseKeeper, RENEWALS_PER_LEASE, askedFor, ownerHere, processIsDead, type Lease } from './lease.js';
import { runProjection } from './run/index.js';
import { isLeaseLoss } from './run/member.js';
import type { RunOptions, RunResult } from './types.js';

/**
 * Many workers: `run --follow` processes sharing one store's projections. Each registers with a
 * heartbeat, takes free projections while under its share (⌈M/N⌉ for M projections and N live
 * workers), hands extra ones over at a batch boundary, and works on each one it holds under a fenced
 * lease: every batch commits only while the lease's token is still its own.
 */
export interface WorkerOptions {
  leaseMs: number;
  /** Stops the worker: its runs stop at a batch boundary and every lease is released at once. */
  signal: AbortSignal;
  /** The run options of a projection (batch size, on-error, incidents); follow, signal and lease are the worker's. */
  optionsFor: (projection: Projection<unknown>) => RunOptions;
  onNews?: (news: WorkerNews) => void;
  /** How often the worker looks at the others (default 100 ms, at most a tenth of the lease). */
  tickMs?: number;
}

export type WorkerNews =
  | { kind: 'joined'; worker: WorkerRow | Omit<WorkerRow, 'expiresAt'> }
  | { kind: 'took'; name: string; token: number; share: number; workers: number }
  | { kind: 'handed-over'; name: string; share: number; workers: number }
  | { kind: 'asked-for'; name: string }
  | { kind: 'lost'; name: string; token: number; reason: string }
  | { kind: 'stopped'; result: RunResult }
  | { kind: 'error'; name: string | null; message: string }
  | { kind: 'reconnected' };

/** Why a projection is being let go: its share went to another worker, its lease was lost, the worker stops, or its run failed. */
type Leaving = 'share' | 'lost' | 'stop' | 'error';

interface Holding {
  projection: Projection<unknown>;
  lease: Lease;
  controller: AbortController;
  /** Settles when its run has stopped (and the lease, if it was to be let go, is released). */
  done: Promise<void>;
  /** The run ended by itself (faulted, stale-version): the lease is kept so no other worker retries it. */
  parked: boolean;
  /** Null while it is worked on. */
  leaving: Leaving | null;
  /** Taken above the share because nobody else ran it (see STARVING_MS): not counted, not handed over, until the share has room. */
  extra: boolean;
}

const TAKEN_OVER = 'another worker took it over; nothing more was committed';

/**
 * A projection whose live version is not this file's (awaiting a promotion, or superseded by one) is
 * let go and its live version looked at again this often, without taking its lease: another worker
 * with the live version runs it meanwhile, and once the file's version is promoted this worker takes
 * it up without a restart.
 */
const STAND_BY_MS = 2000;

/**
 * A projection left free this long is taken even by a worker at its share: the workers under their
 * share cannot run it (they stand by for it, their version is not the live one), yet count in the
 * share. Without this, the version promoted would wait for the old workers to stop, and the live
 * one for the new workers to start running it, whenever those outnumber what they can run.
 */
const STARVING_MS = 3000;

const standsBy = (state: RunResult['state']): boolean => state === 'awaiting-promotion' || state === 'superseded';

/** The share of a worker: ⌈M/N⌉. */
export function shareOf(projections: number, workers: number): number {
  return Math.ceil(projections / Math.max(1, workers));
}

function shuffle<T>(items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

class Worker {
  readonly me = { id: randomUUID(), pid: process.pid, host: hostname(), since: new Date().toISOString() };
  readonly keeper: LeaseKeeper;
  readonly held = new Map<string, Holding>();
  readonly results = new Map<string, RunResult>();
  private readonly names: Set<string>;
  private readonly freeSince = new Map<string, number>();
  private readonly letGo = new Map<string, number>();
  /** Projections let go because their live version is not this file's: since when, and why (said once per change). */
  private readonly standingBy = new Map<string, { since: number; state: RunResult['state'] }>();
  private readonly tickMs: number;
  private readonly heartbeatEvery: number;
  /** A free projection waits this long for a worker with fewer projections before anyone takes it. */
  private readonly graceMs: number;
  /**
   * A worker that has just joined takes nothing for this long, so workers started together see each
   * other first and each takes its share, instead of the first taking everything and handing most of
   * it over batch by batch.
   */
  private readonly joinMs: number;
  private joinedAt = Infinity;
  private lastHeartbeat = -Infinity;
  private unreachable = false;
  /** Set once the worker is leaving: releases wait for it, so the others count one worker fewer first. */
  leftStore: Promise<void> | null = null;

  constructor(
    readonly store: EventStore<unknown>,
    readonly projections: readonly Projection<unknown>[],
    readonly options: WorkerOptions,
  ) {
    const { leaseMs } = options;
    this.keeper = new LeaseKeeper(store, leaseMs);
    this.names = new Set(projections.map((p) => p.name));
    this.tickMs = Math.min(options.tickMs ?? 100, leaseMs / 10);
    this.heartbeatEvery = leaseMs / RENEWALS_PER_LEASE;
    this.graceMs = this.tickMs * 3;
    this.joinMs = Math.max(this.graceMs, Math.min(1000, leaseMs / 5));
  }

  tell(news: WorkerNews): void {
    this.options.onNews?.(news);
  }

  working(): Holding[] {
    return [...this.held.values()].filter((h) => h.leaving === null);
  }

  private async release(h: Holding): Promise<void> {
    if (this.leftStore) await this.leftStore;
    await h.lease.release();
  }

  drop(h: Holding, why: Leaving): void {
    if (h.leaving !== null) return;
    h.leaving = why;
    h.controller.abort();
    if (h.parked) h.done = this.release(h).finally(() => this.held.delete(h.projection.name));
  }

  private lose(h: Holding, reason: string): void {
    if (h.leaving !== null) return;
    this.tell({ kind: 'lost', name: h.projection.name, token: h.lease.fence.token, reason });
    this.drop(h, 'lost');
  }

  private start(projection: Projection<unknown>, lease: Lease, extra: boolean): void {
    const controller = new AbortController();
    const h: Holding = { projection, lease, controller, done: Promise.resolve(), parked: false, leaving: null, extra };
    this.held.set(projection.name, h);
    lease.signal.addEventListener('abort', () =>
      this.lose(h, lease.ranOut() ? 'its lease ran out before it could be renewed' : 'its lease was taken over while it could not renew it'),
    );
    h.done = this.work(h).then(async (keep) => {
      if (keep) return;
      await this.release(h);
      this.held.delete(projection.name);
    });
  }

  /** Runs a held projection until it is let go or ends by itself; true when its lease is to be kept (parked). */
  private async work(h: Holding): Promise<boolean> {
    const { projection, lease } = h;
    const { signal } = this.options;
    try {
      const result = await runProjection(this.store, projection, {
        ...this.options.optionsFor(projection),
        follow: true,
        signal: AbortSignal.any([signal, h.controller.signal]),
        leases: new Map([[projection.name, lease]]),
      });
      if (result.state === 'locked') {
        this.lose(h, TAKEN_OVER);
      } else if (standsBy(result.state) && h.leaving === null && !signal.aborted) {
        const before = this.standingBy.get(projection.name);
        this.standingBy.set(projection.name, { since: performance.now(), state: result.state });
        this.results.set(projection.name, result);
        if (before?.state !== result.state) this.tell({ kind: 'stopped', result });
        h.leaving = 'share';
      } else if (h.leaving === null && !signal.aborted) {
        // Ended by itself: faulted or stale-version. It stays stopped, its lease kept.
        this.results.set(projection.name, result);
        h.parked = true;
        this.tell({ kind: 'stopped', result });
        return true;
      } else if (h.leaving === 'stop' || signal.aborted) {
        // A stint handed over or lost is not this worker's result; what it holds when it stops is.
        this.results.set(projection.name, result);
      }
    } catch (error) {
      if (isLeaseLoss(error)) this.lose(h, TAKEN_OVER);
      else {
        this.tell({ kind: 'error', name: projection.name, message: errorMessage(error) });
        this.drop(h, 'error');
      }
    }
    return false;
  }

  private async heartbeat(): Promise<void> {
    const sent = performance.now();
    await this.store.heartbeat(this.me, this.options.leaseMs);
    if (this.joinedAt === Infinity) {
      this.joinedAt = performance.now();
      this.tell({ kind: 'joined', worker: this.me });
    }
    this.lastHeartbeat = sent;
  }

  /** Whether a lease row leaves its projection free: none, run out, or a holder here that died. */
  private isFree(row: LeaseRow | undefined): boolean {
    return row === undefined || !row.live || (row.owner.id !== this.me.id && processIsDead(row.owner));
  }

  /** The live workers and how many projections each holds; the share of each; the projections a takeover asks for. */
  private async census(): Promise<{ share: number; workers: number; others: number[]; byName: Map<string, LeaseRow>; asked: Set<string> }> {
    const [workers, leases] = await Promise.all([this.store.liveWorkers(), this.store.leases()]);
    // A worker whose process is seen dead here (same host and PID namespace) no longer counts, so
    // its projections are shared out without waiting for its heartbeat to run out.
    const dead = new Set(leases.filter((l) => l.owner.id !== this.me.id && processIsDead(l.owner)).map((l) => l.owner.id));
    const ids = new Set(workers.map((w) => w.id).filter((id) => !dead.has(id)));
    ids.add(this.me.id);
    const byName = new Map(leases.filter((l) => this.names.has(l.name)).map((l) => [l.name, l]));
    const counts = new Map<string, number>([...ids].map((id) => [id, 0]));
    for (const row of byName.values()) {
      if (!this.isFree(row) && counts.has(row.owner.id)) counts.set(row.owner.id, (counts.get(row.owner.id) ?? 0) + 1);
    }
    const others = [...counts.entries()].filter(([id]) => id !== this.me.id).map(([, n]) => n);
    const asked = new Set(
      leases
        .filter((l) => l.live && l.owner.id !== this.me.id && !processIsDead(l.owner))
        .map((l) => askedFor(l.name))
        .filter((name): name is string => name !== null && this.names.has(name)),
    );
    return { share: shareOf(this.names.size, ids.size), workers: ids.size, others, byName, asked };
  }

  /** Hands over what is above the share, or one when a worker has two fewer (an even spread); returns how many it keeps. */
  private handOver(share: number, workers: number, others: number[]): number {
    // One taken above the share (nobody else ran it) counts once the share has room for it.
    let mine = this.working().filter((h) => !h.extra).length;
    for (const h of this.working()) {
      if (h.extra && mine < share) {
        h.extra = false;
        mine += 1;
      }
    }
    let extra = Math.max(mine - share, others.length > 0 && mine >= Math.min(...others) + 2 ? 1 : 0);
    // The running ones go first (popped from the end); a parked (faulted) one only when nothing else is left.
    const candidates = this.working()
      .filter((h) => !h.extra)
      .sort((a, b) => Number(b.parked) - Number(a.parked));
    while (extra > 0 && candidates.length > 0) {
      const h = candidates.pop() as Holding;
      this.letGo.set(h.projection.name, performance.now());
      this.tell({ kind: 'handed-over', name: h.projection.name, share, workers });
      this.drop(h, 'share');
      extra -= 1;
      mine -= 1;
    }
    return mine;
  }

  /**
   * Lets go what a takeover (promote, verify) asks for: the run commits the batch under way, with what
   * it published, and stops; the lease is released for the one asking, which takes it without fencing
   * anything out, so nothing this worker did is done again after it.
   */
  private letAskedGo(asked: Set<string>): void {
    for (const h of this.working()) {
      if (!asked.has(h.projection.name)) continue;
      // No grace before taking it back: while the asking lease is held nobody takes it, and once the
      // promote or verify lets it go the live runner should be back at once (its pause is theirs).
      this.tell({ kind: 'asked-for', name: h.projection.name });
      this.drop(h, 'share');
    }
  }

  /**
   * Takes free projections while under the share, the workers with the fewest first; above it, one
   * that nobody else has taken for STARVING_MS.
   */
  private async take(mine: number, census: Awaited<ReturnType<Worker['census']>>): Promise<void> {
    const { share, workers, others, byName } = census;
    const fewest = Math.min(mine, ...others);
    const now = performance.now();
    const free = this.projections.filter((p) => !this.held.has(p.name) && this.isFree(byName.get(p.name)));
    for (const name of this.names) if (!free.some((p) => p.name === name)) this.freeSince.delete(name);
    for (const p of free) if (!this.freeSince.has(p.name)) this.freeSince.set(p.name, now);
    for (const p of shuffle(free)) {
      if (this.options.signal.aborted || now - this.joinedAt < this.joinMs) break;
      const freeFor = now - (this.freeSince.get(p.name) ?? now);
      if (mine >= share && freeFor < STARVING_MS) continue;
      if (now - (this.letGo.get(p.name) ?? -Infinity) < this.graceMs * 4 || census.asked.has(p.name)) continue;
      if (mine > fewest && freeFor < this.graceMs) continue;
      if (!(await this.mayRunAgain(p, now))) continue;
      const owner = ownerHere(this.me.id);
      const attempt = await this.store.tryLease(p.name, owner, this.options.leaseMs, processIsDead);
      if (!attempt.taken) continue;
      const extra = mine >= share;
      if (!extra) mine += 1;
      this.tell({ kind: 'took', name: p.name, token: attempt.token, share, workers });
      this.start(p, this.keeper.keep(p.name, owner, attempt.token), extra);
    }
  }

  /**
   * A projection let go because its live version was not this file's is looked at again every
   * STAND_BY_MS, through its checkpoint and not its lease (taking the lease to look would keep it
   * from the workers that run it, and make it look taken): true once the live version is the file's.
   */
  private async mayRunAgain(projection: Projection<unknown>, now: number): Promise<boolean> {
    const standing = this.standingBy.get(projection.name);
    if (standing === undefined) return true;
    if (now - standing.since < STAND_BY_MS) return false;
    const { version } = await loadCheckpoint(this.store, projection.name);
    if (version !== null && version !== projection.version) {
      standing.since = now;
      return false;
    }
    this.standingBy.delete(projection.name);
    return true;
  }

  async tick(): Promise<void> {
    if (performance.now() - this.lastHeartbeat >= this.heartbeatEvery || this.joinedAt === Infinity) await this.heartbeat();
    if (this.options.signal.aborted) return;
    const census = await this.census();
    this.letAskedGo(census.asked);
    await this.take(this.handOver(census.share, census.workers, census.others), census);
  }

  /** One tick, said once when the store cannot be reached and once when it can again. */
  tickAndTell(): Promise<void> {
    return this.tick().then(
      () => {
        if (this.unreachable) this.tell({ kind: 'reconnected' });
        this.unreachable = false;
      },
      (error: unknown) => {
        if (!this.unreachable) this.tell({ kind: 'error', name: null, message: `cannot reach the store, trying again: ${errorMessage(error)}` });
        this.unreachable = true;
      },
    );
  }

  get pauseMs(): number {
    return this.tickMs;
  }
  get waitForTickMs(): number {
    return this.heartbeatEvery / 2;
  }
}

export async function runWorker(store: EventStore<unknown>, projections: readonly Projection<unknown>[], options: WorkerOptions): Promise<RunResult[]> {
  const { signal } = options;
  const worker = new Worker(store, projections, options);
  let ticking: Promise<void> | null = null;
  const stopped = new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
  while (!signal.aborted) {
    ticking ??= worker.tickAndTell().finally(() => {
      ticking = null;
    });
    // A tick that hangs (a store that does not answer) must not hold the worker: the leases are kept
    // apart (LeaseKeeper). A plain timer, cleared after the race: one abort listener per tick would pile up.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([ticking, stopped, new Promise((resolve) => (timer = setTimeout(resolve, worker.waitForTickMs)))]);
    clearTimeout(timer);
    await sleep(worker.pauseMs, signal);
  }
  // Stopping: the runs stop at their batch boundary while the worker leaves; the leases are let go
  // after it has left, so the others count one worker fewer and take the projections at once. A
  // lease a tick under way takes now is let go too (its run sees the stop before its first batch).
  worker.leftStore = store.leaveWorker(worker.me.id).catch(() => {});
  for (const h of worker.held.values()) worker.drop(h, 'stop');
  await Promise.all([...worker.held.values()].map((h) => h.done));
  if (ticking) await Promise.race([ticking, sleep(1000)]);
  await Promise.all([...worker.held.values()].map((h) => h.done));
  return [...worker.results.values()];
}
