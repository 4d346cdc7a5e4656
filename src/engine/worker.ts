import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { errorMessage } from '../core/errors.js';
import type { Projection } from '../core/projection.js';
import type { EventStore, Fence, LeaseRow, LockOwner, WorkerRow } from '../ports/event-store.js';
import { localPidSpace } from './holder-identity.js';
import { processIsDead, RENEWALS_PER_LEASE } from './lock.js';
import { sleep } from './retry.js';
import { runProjection } from './run.js';
import { isLeaseLoss } from './fences.js';
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
  /** The run options of a projection (batch size, on-error, incidents); follow and signal are the worker's. */
  optionsFor: (projection: Projection<unknown>) => RunOptions;
  onNews?: (news: WorkerNews) => void;
  /** How often the worker looks at the others (default 100 ms, at most a tenth of the lease). */
  tickMs?: number;
}

export type WorkerNews =
  | { kind: 'joined'; worker: WorkerRow | Omit<WorkerRow, 'expiresAt'> }
  | { kind: 'took'; name: string; token: number; share: number; workers: number }
  | { kind: 'handed-over'; name: string; share: number; workers: number }
  | { kind: 'lost'; name: string; token: number; reason: string }
  | { kind: 'stopped'; result: RunResult }
  | { kind: 'error'; name: string | null; message: string }
  | { kind: 'reconnected' };

interface Holding {
  projection: Projection<unknown>;
  token: number;
  controller: AbortController;
  /** Settles when its run has stopped (and the lease, if it was to be let go, is released). */
  done: Promise<void>;
  /** The run ended by itself (faulted, stale-version): the lease is kept so no other worker retries it. */
  parked: boolean;
  /** performance.now() until which the lease is known to be ours (counted from before the renewal). */
  confirmedUntil: number;
  /** Why it is being let go; null while it is worked on. */
  leaving: 'share' | 'lost' | 'stop' | 'error' | null;
}

/** The share of a worker: ⌈M/N⌉. */
export function shareOf(projections: number, workers: number): number {
  return Math.ceil(projections / Math.max(1, workers));
}

export async function runWorker(
  store: EventStore<unknown>,
  projections: readonly Projection<unknown>[],
  options: WorkerOptions,
): Promise<RunResult[]> {
  const { leaseMs, signal } = options;
  const tickMs = Math.min(options.tickMs ?? 100, leaseMs / 10);
  const renewEvery = leaseMs / RENEWALS_PER_LEASE;
  // A free projection waits this long for a worker with fewer projections before anyone takes it.
  const graceMs = tickMs * 3;
  // A worker that has just joined takes nothing for this long, so workers started together see each
  // other first and each takes its share, instead of the first taking everything and handing most of
  // it over batch by batch.
  const joinMs = Math.max(graceMs, Math.min(1000, leaseMs / 5));
  let joinedAt = Infinity;
  const tell = options.onNews ?? (() => {});
  const me = { id: randomUUID(), pid: process.pid, host: hostname(), since: new Date().toISOString() };
  const names = new Set(projections.map((p) => p.name));
  const held = new Map<string, Holding>();
  const results = new Map<string, RunResult>();
  const freeSince = new Map<string, number>();
  const letGo = new Map<string, number>();
  let lastRenewal = -Infinity;
  let registered = false;
  let unreachable = false;

  const working = (): Holding[] => [...held.values()].filter((h) => h.leaving === null);

  let leaving: Promise<void> | null = null;
  const release = async (h: Holding): Promise<void> => {
    if (leaving) await leaving;
    // Token-checked: a lease taken over meanwhile is not touched.
    await store.releaseLock(h.projection.name, me.id, h.token).catch(() => {});
  };

  const drop = (h: Holding, leaving: NonNullable<Holding['leaving']>): void => {
    if (h.leaving !== null) return;
    h.leaving = leaving;
    h.controller.abort();
    if (h.parked) {
      h.done = release(h).finally(() => held.delete(h.projection.name));
    }
  };

  const lose = (h: Holding, reason: string): void => {
    if (h.leaving !== null) return;
    tell({ kind: 'lost', name: h.projection.name, token: h.token, reason });
    drop(h, 'lost');
  };

  const start = (projection: Projection<unknown>, token: number): void => {
    const name = projection.name;
    const controller = new AbortController();
    const fence: Fence = { name, ownerId: me.id, token, leaseMs };
    const h: Holding = {
      projection,
      token,
      controller,
      done: Promise.resolve(),
      parked: false,
      confirmedUntil: performance.now() + leaseMs,
      leaving: null,
    };
    held.set(name, h);
    h.done = (async () => {
      try {
        const result = await runProjection(store, projection, {
          ...options.optionsFor(projection),
          follow: true,
          signal: AbortSignal.any([signal, controller.signal]),
          fenceFor: (n) => (n === name ? fence : undefined),
        });
        if (result.lostLease !== undefined) {
          lose(h, 'another worker took it over; nothing more was committed');
        } else if (h.leaving === null && !signal.aborted) {
          // Ended by itself: faulted or stale-version. It stays stopped, its lease kept.
          results.set(name, result);
          h.parked = true;
          tell({ kind: 'stopped', result });
          return;
        } else if (h.leaving === 'stop' || signal.aborted) {
          // A stint handed over or lost is not this worker's result; what it holds when it stops is.
          results.set(name, result);
        }
      } catch (error) {
        if (isLeaseLoss(error)) lose(h, 'another worker took it over; nothing more was committed');
        else {
          tell({ kind: 'error', name, message: errorMessage(error) });
          drop(h, 'error');
        }
      }
      await release(h);
      held.delete(name);
    })();
  };

  const renew = async (): Promise<void> => {
    const sent = performance.now();
    await store.heartbeat(me, leaseMs);
    if (!registered) {
      registered = true;
      joinedAt = performance.now();
      tell({ kind: 'joined', worker: me });
    }
    for (const h of [...held.values()]) {
      if (h.leaving !== null && h.leaving !== 'stop') continue;
      // A renewal that failed (a row lock it gave up on, a slow answer) loses nothing yet: the
      // next one may pass, and the lease running out is what gives the projection up.
      const renewed = await store.renewLock(h.projection.name, me.id, leaseMs, h.token).catch(() => null);
      if (renewed) h.confirmedUntil = sent + leaseMs;
      else if (renewed === false) lose(h, 'its lease was taken over while it could not renew it');
    }
    lastRenewal = sent;
  };

  /** Whether a lease row leaves its projection free: none, run out, or a holder here that died. */
  const isFree = (row: LeaseRow | undefined): boolean => row === undefined || !row.live || (row.owner.id !== me.id && processIsDead(row.owner));

  const balance = async (): Promise<void> => {
    const [workers, leases] = await Promise.all([store.liveWorkers(), store.leases()]);
    // A worker whose process is seen dead here (same host and PID namespace) no longer counts, so
    // its projections are shared out without waiting for its heartbeat to run out.
    const dead = new Set(leases.filter((l) => l.owner.id !== me.id && processIsDead(l.owner)).map((l) => l.owner.id));
    const ids = new Set(workers.map((w) => w.id).filter((id) => !dead.has(id)));
    ids.add(me.id);
    const share = shareOf(names.size, ids.size);
    const byName = new Map(leases.filter((l) => names.has(l.name)).map((l) => [l.name, l]));
    const counts = new Map<string, number>([...ids].map((id) => [id, 0]));
    for (const row of byName.values()) {
      if (!isFree(row) && counts.has(row.owner.id)) counts.set(row.owner.id, (counts.get(row.owner.id) ?? 0) + 1);
    }
    let mine = working().length;
    const others = [...counts.entries()].filter(([id]) => id !== me.id).map(([, n]) => n);
    const fewest = Math.min(mine, ...others);

    // Hand over: what is above the share, or one when a worker has two fewer (an even spread).
    let extra = Math.max(mine - share, others.length > 0 && mine >= Math.min(...others) + 2 ? 1 : 0);
    // The running ones go first (popped from the end); a parked (faulted) one only when nothing else is left.
    const candidates = working().sort((a, b) => Number(b.parked) - Number(a.parked));
    while (extra > 0 && candidates.length > 0) {
      const h = candidates.pop() as Holding;
      letGo.set(h.projection.name, performance.now());
      tell({ kind: 'handed-over', name: h.projection.name, share, workers: ids.size });
      drop(h, 'share');
      extra -= 1;
      mine -= 1;
    }

    // Take: free projections while under the share; the workers with the fewest first.
    const now = performance.now();
    const free = projections.filter((p) => !held.has(p.name) && isFree(byName.get(p.name)));
    for (const name of names) if (!free.some((p) => p.name === name)) freeSince.delete(name);
    for (const p of free) if (!freeSince.has(p.name)) freeSince.set(p.name, now);
    for (const p of shuffle(free)) {
      if (mine >= share || signal.aborted || now - joinedAt < joinMs) break;
      if (now - (letGo.get(p.name) ?? -Infinity) < graceMs * 4) continue;
      if (mine > fewest && now - (freeSince.get(p.name) ?? now) < graceMs) continue;
      const owner: LockOwner = { ...me, since: new Date().toISOString(), ...localPidSpace() };
      const attempt = await store.tryLease(p.name, owner, leaseMs, processIsDead);
      if (!attempt.taken) continue;
      mine += 1;
      tell({ kind: 'took', name: p.name, token: attempt.token, share, workers: ids.size });
      start(p, attempt.token);
    }
  };

  let ticking: Promise<void> | null = null;
  const stopped = new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
  const tick = async (): Promise<void> => {
    const now = performance.now();
    const overdue = [...held.values()].some((h) => h.leaving === null && now >= h.confirmedUntil - renewEvery);
    if (now - lastRenewal >= renewEvery || overdue || !registered) await renew();
    if (!signal.aborted) await balance();
  };

  while (!signal.aborted) {
    ticking ??= tick().then(
      () => {
        if (unreachable) tell({ kind: 'reconnected' });
        unreachable = false;
      },
      (error: unknown) => {
        if (!unreachable) tell({ kind: 'error', name: null, message: `cannot reach the store, trying again: ${errorMessage(error)}` });
        unreachable = true;
      },
    ).finally(() => {
      ticking = null;
    });
    // A tick that hangs (a store that does not answer) must not keep the lease checks below waiting.
    // A plain timer, cleared after the race: one abort listener per tick would pile up on `signal`.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([ticking, stopped, new Promise((resolve) => (timer = setTimeout(resolve, renewEvery / 2)))]);
    clearTimeout(timer);
    // A lease not confirmed in time is given up: the worker stops committing under it (each commit is
    // fenced anyway) and stands by until it can take projections again.
    const now = performance.now();
    for (const h of held.values()) {
      if (h.leaving === null && now >= h.confirmedUntil) lose(h, 'its lease ran out before it could be renewed');
    }
    await sleep(tickMs, signal);
  }

  // Stopping: the runs stop at their batch boundary while the worker leaves; the leases are let go
  // after it has left, so the others count one worker fewer and take the projections at once. A
  // lease a tick under way takes now is let go too (its run sees the stop before its first batch).
  leaving = store.leaveWorker(me.id).catch(() => {});
  for (const h of held.values()) drop(h, 'stop');
  await Promise.all([...held.values()].map((h) => h.done));
  if (ticking) await Promise.race([ticking, sleep(1000)]);
  await Promise.all([...held.values()].map((h) => h.done));
  return [...results.values()];
}

function shuffle<T>(items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
