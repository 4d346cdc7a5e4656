import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { EsError } from '../core/errors.js';
import type { EventStore, Fence, LockOwner } from '../ports/event-store.js';
import { localPidSpace, sharesPidSpace } from './holder-identity.js';
import { sleep } from './retry.js';

/** A holder that died blocks the next runner for at most this long (`--lease`'s default). */
export const LOCK_TTL_MS = 30_000;
/** `--lease` below this would be renewed too often to survive a busy moment of the store. */
export const MIN_LEASE_MS = 5_000;
/** A lease is renewed this many times per its length, so a late renewal or two does not lose it. */
export const RENEWALS_PER_LEASE = 3;

export interface LockOptions {
  /** How long to wait for a held lock; 0 refuses at once. Ignored when `deadline` is given. */
  waitMs?: number;
  /** When waiting ends (Date.now() ms): one deadline shared by every lock a command takes. */
  deadline?: number;
  /** The wait as the user asked for it (`60s`), for the refusal; absent when none was asked. */
  asked?: string;
  /** Ends the wait: the lock is then refused as INTERRUPTED, not LOCKED. */
  signal?: AbortSignal;
  /** The lease's length (`--lease`); LOCK_TTL_MS when absent. */
  leaseMs?: number;
}

export interface HeldLock {
  /** Aborts when the lock is lost to a takeover. */
  readonly signal: AbortSignal;
  readonly lost: () => boolean;
  /** The lease ran out before a renewal got through (this process was stopped or starved), rather than being refused. */
  readonly ranOut: () => boolean;
  /** What each commit made under this lock checks (see CommitUnit.fences). */
  readonly fence: Fence;
  release(): Promise<void>;
}

/** A holder whose pid means a process here, and that process is gone; otherwise its lease decides. */
export function processIsDead(holder: LockOwner): boolean {
  if (!sharesPidSpace(holder) || holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

export function describeHolder(holder: LockOwner): string {
  return `pid ${holder.pid} on ${holder.host} since ${holder.since}`;
}

/**
 * Takes a projection's lock (waiting up to `waitMs`) and keeps renewing its lease. A lock that
 * cannot be renewed, because another runner took it over, aborts `signal`; the checkpoint's
 * expected version then refuses anything the old holder would still commit.
 */
export async function acquireProjectionLock(
  store: EventStore<unknown>,
  name: string,
  options: LockOptions = {},
): Promise<HeldLock> {
  const owner: LockOwner = {
    id: randomUUID(),
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
    ...localPidSpace(),
  };
  const deadline = options.deadline ?? Date.now() + (options.waitMs ?? 0);
  const leaseMs = options.leaseMs ?? LOCK_TTL_MS;
  let token: number;
  for (;;) {
    const attempt = await store.tryLease(name, owner, leaseMs, processIsDead);
    if (attempt.taken) {
      token = attempt.token;
      break;
    }
    const { holder } = attempt;
    if (options.signal?.aborted) {
      // A stop signal, not the holder, ended the wait: the command exits 130/143, not 75.
      throw new EsError('INTERRUPTED', `${name}: interrupted while waiting for ${describeHolder(holder)}; nothing was done`, {
        details: { holder },
      });
    }
    if (Date.now() >= deadline) {
      const waited = options.asked ?? (options.waitMs ? `${options.waitMs}ms` : undefined);
      const advice = waited ? `still held when --wait ${waited} ran out` : 'try again later or pass --wait';
      throw new EsError('LOCKED', `${name} is being run by ${describeHolder(holder)}; ${advice}`, { details: { holder } });
    }
    await sleep(Math.min(250, Math.max(10, deadline - Date.now())), options.signal);
  }
  const lost = new AbortController();
  let lockLost = false;
  let ranOut = false;
  const lose = (outOfTime = false): void => {
    lockLost = true;
    ranOut = outOfTime;
    lost.abort();
  };
  // Until when the lease is known to be ours, by this process's clock (the store's may differ, so the
  // time is counted from before the renewal was sent).
  let confirmedUntil = performance.now() + leaseMs;
  const timer = setInterval(() => {
    if (performance.now() >= confirmedUntil) return lose(true);
    const sent = performance.now();
    store.renewLock(name, owner.id, leaseMs, token).then(
      (held) => {
        if (held) confirmedUntil = sent + leaseMs;
        else lose();
      },
      // The store cannot be reached: keep trying; the lease running out ends the run, and each commit
      // is fenced anyway.
      () => {},
    );
  }, leaseMs / RENEWALS_PER_LEASE);
  timer.unref();
  return {
    signal: lost.signal,
    lost: () => lockLost,
    ranOut: () => ranOut,
    fence: { name, ownerId: owner.id, token, leaseMs },
    async release() {
      clearInterval(timer);
      await store.releaseLock(name, owner.id, token).catch(() => {});
    },
  };
}

export function lockLostError(name: string, ranOut = false): EsError {
  // A process stopped or starved past its lease could not renew it: nobody need have taken it.
  const why = ranOut ? 'its lease ran out before this process could renew it' : 'the lock was taken over by another process';
  return new EsError('LOCKED', `${name}: ${why}; this run stopped`);
}

/** Runs `work` while holding the projection's lock; its signal aborts on the caller's signal or a lost lock. */
export async function withProjectionLock<T>(
  store: EventStore<unknown>,
  name: string,
  options: LockOptions,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const lock = await acquireProjectionLock(store, name, options);
  const signal = options.signal ? AbortSignal.any([options.signal, lock.signal]) : lock.signal;
  try {
    const result = await work(signal);
    if (lock.lost()) throw lockLostError(name, lock.ranOut());
    return result;
  } finally {
    await lock.release();
  }
}
