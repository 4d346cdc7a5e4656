import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { EsError } from '../core/errors.js';
import { sleep } from '../core/sleep.js';
import type { Fence, LeaseStore, LockOwner } from '../ports/event-store.js';
import { localPidSpace, sharesPidSpace } from './holder-identity.js';

/** A holder that died blocks the next runner for at most this long (`--lease`'s default). */
export const LOCK_TTL_MS = 30_000;
/** `--lease` below this would be renewed too often to survive a busy moment of the store. */
export const MIN_LEASE_MS = 5_000;
/** A lease is renewed this many times per its length, so a late renewal or two does not lose it. */
export const RENEWALS_PER_LEASE = 3;

/**
 * A projection's lease as its holder has it: the fence every commit under it carries, and a signal
 * that aborts when it is lost. One object for cron runs and workers alike, renewed by a LeaseKeeper.
 */
export interface Lease {
  readonly name: string;
  readonly fence: Fence;
  /** Aborts when the lease is lost: taken over, or run out before a renewal got through. */
  readonly signal: AbortSignal;
  lost(): boolean;
  /** The lease ran out before a renewal got through (this process was stopped or starved), rather than being refused. */
  ranOut(): boolean;
  /** Stops renewing it and lets it go (token-checked: a lease taken over meanwhile is not touched). */
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

/** Who this process is, as a lease row shows it. */
export function ownerHere(id: string = randomUUID()): LockOwner {
  return { id, pid: process.pid, host: hostname(), since: new Date().toISOString(), ...localPidSpace() };
}

/** Why a run stopped when its lease was lost (the result's error message). */
export function lostLeaseMessage(name: string, ranOut: boolean): string {
  // A process stopped or starved past its lease could not renew it: nobody need have taken it.
  const why = ranOut ? 'its lease ran out before this process could renew it' : 'the lock was taken over by another process';
  return `${name}: ${why}; this run stopped`;
}

interface Kept {
  lease: Lease;
  /** performance.now() until which the lease is known to be ours (counted from before the renewal was sent). */
  confirmedUntil: number;
  lastSent: number;
  renewing: boolean;
  /** The last renewal failed (no answer): the next one goes sooner. */
  failed: boolean;
  lose(ranOut: boolean): void;
}

/**
 * Keeps leases: one timer renews every lease it holds a few times per lease length, on a path that
 * never waits behind a batch, and loses a lease the moment it is no longer known to be ours (a
 * renewal refused, or none confirmed in time, by this process's clock). A store that does not answer
 * delays nothing: each commit is fenced anyway, and the lease running out ends the work under it.
 */
export class LeaseKeeper {
  private readonly kept = new Map<Lease, Kept>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: LeaseStore,
    readonly leaseMs: number = LOCK_TTL_MS,
  ) {}

  /** Starts keeping a lease this process has just taken (its token from tryLease). */
  keep(name: string, owner: LockOwner, token: number): Lease {
    const controller = new AbortController();
    let lostIt = false;
    let ranOutIt = false;
    const lease: Lease = {
      name,
      fence: { name, ownerId: owner.id, token, leaseMs: this.leaseMs },
      signal: controller.signal,
      lost: () => lostIt,
      ranOut: () => ranOutIt,
      release: async () => {
        this.forget(lease);
        await this.store.releaseLock(name, owner.id, token).catch(() => {});
      },
    };
    const now = performance.now();
    this.kept.set(lease, {
      lease,
      confirmedUntil: now + this.leaseMs,
      lastSent: now,
      renewing: false,
      failed: false,
      lose: (outOfTime) => {
        if (lostIt) return;
        lostIt = true;
        ranOutIt = outOfTime;
        this.forget(lease);
        controller.abort();
      },
    });
    this.timer ??= setInterval(() => this.tick(), Math.min(100, this.leaseMs / 10));
    this.timer.unref();
    return lease;
  }

  /** Stops renewing a lease without letting it go (it runs out by itself). */
  forget(lease: Lease): void {
    this.kept.delete(lease);
    if (this.kept.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private tick(): void {
    const now = performance.now();
    const renewEvery = this.leaseMs / RENEWALS_PER_LEASE;
    for (const kept of [...this.kept.values()]) {
      if (now >= kept.confirmedUntil) {
        kept.lose(true);
        continue;
      }
      const due = kept.failed ? Math.min(renewEvery, 500) : renewEvery;
      if (kept.renewing || now - kept.lastSent < due) continue;
      this.renew(kept, now);
    }
  }

  private renew(kept: Kept, sent: number): void {
    const { name, fence } = kept.lease;
    kept.renewing = true;
    kept.lastSent = sent;
    this.store.renewLock(name, fence.ownerId, this.leaseMs, fence.token).then(
      (held) => {
        kept.renewing = false;
        kept.failed = false;
        if (held) kept.confirmedUntil = Math.max(kept.confirmedUntil, sent + this.leaseMs);
        else kept.lose(false);
      },
      // The store cannot be reached: keep trying; the lease running out is what gives it up.
      () => {
        kept.renewing = false;
        kept.failed = true;
      },
    );
  }
}

export interface LockOptions {
  /** How long to wait for a held lock; 0 refuses at once. Ignored when `deadline` is given. */
  waitMs?: number;
  /** When waiting ends (Date.now() ms): one deadline shared by every lock a command takes. */
  deadline?: number;
  /** The wait as the user asked for it (`60s`), for the refusal; absent when none was asked. */
  asked?: string;
  /** Ends the wait: the lock is then refused as INTERRUPTED, not LOCKED. */
  signal?: AbortSignal;
}

/**
 * Takes a projection's lease (waiting up to `waitMs` while another process holds it) and keeps it.
 * Refused as LOCKED naming the holder when the wait runs out, INTERRUPTED when `signal` ends it.
 */
export async function acquireLease(store: LeaseStore, keeper: LeaseKeeper, name: string, options: LockOptions = {}): Promise<Lease> {
  const owner = ownerHere();
  const deadline = options.deadline ?? Date.now() + (options.waitMs ?? 0);
  for (;;) {
    const attempt = await store.tryLease(name, owner, keeper.leaseMs, processIsDead);
    if (attempt.taken) return keeper.keep(name, owner, attempt.token);
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
}

/** How long a takeover keeps trying while the lease row is busy (another taker, a commit's fence). */
const TAKEOVER_TRIES_MS = 10_000;

/** How long a takeover waits for the holder to let the projection go when asked, before it takes the lease anyway. */
export const HANDOVER_WAIT_MS = 5_000;

/**
 * The lease by which a takeover asks for a projection: while it is held, a `run --follow` worker that
 * holds the projection lets it go at its next batch boundary, and no worker takes it.
 */
export function handoverLease(name: string): string {
  return `handover:${name}`;
}

/** The projection a handover lease asks for; null for any other lease. */
export function askedFor(leaseName: string): string | null {
  return leaseName.startsWith('handover:') ? leaseName.slice('handover:'.length) : null;
}

/**
 * Takes a lease whoever holds it (promote, verify): the holder's next commit is fenced out and its
 * run stops (`locked`); a worker takes the projection back once this lease is let go.
 *
 * With `askMs`, for a projection's own lease, it asks first (handoverLease): a `run --follow` worker
 * that holds it commits the batch under way, with what that batch published and its handlers' side
 * effects, and lets it go, so that nothing it did is done again after the takeover. A holder that
 * does not let go within `askMs` (a cron run, a process paused or cut off) is taken over anyway, and
 * what its batch under way published before the fence is published again.
 */
export async function takeOverLease(store: LeaseStore, keeper: LeaseKeeper, name: string, askMs = 0): Promise<Lease> {
  const owner = ownerHere();
  const ask = askMs > 0 ? await store.tryLease(handoverLease(name), owner, keeper.leaseMs, processIsDead) : null;
  const asking = ask?.taken ? keeper.keep(handoverLease(name), owner, ask.token) : null;
  try {
    const politeUntil = Date.now() + (asking ? askMs : 0);
    while (Date.now() < politeUntil) {
      const attempt = await store.tryLease(name, owner, keeper.leaseMs, processIsDead);
      if (attempt.taken) return keeper.keep(name, owner, attempt.token);
      await sleep(50);
    }
    const deadline = Date.now() + TAKEOVER_TRIES_MS;
    for (;;) {
      const attempt = await store.tryLease(name, owner, keeper.leaseMs, () => true);
      if (attempt.taken) return keeper.keep(name, owner, attempt.token);
      if (Date.now() >= deadline) {
        throw new EsError('LOCKED', `${name}: could not take its lease over from ${describeHolder(attempt.holder)} within ${TAKEOVER_TRIES_MS / 1000}s`);
      }
      await sleep(100);
    }
  } finally {
    await asking?.release();
  }
}
