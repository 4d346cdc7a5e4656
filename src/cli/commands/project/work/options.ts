import { parseDuration, parseWholeNumber } from '../../../../core/duration.js';
import { usage } from '../../../../core/errors.js';
import type { Projection } from '../../../../core/projection.js';
import { LOCK_TTL_MS, MIN_LEASE_MS } from '../../../../engine/lease.js';
import type { RunOptions } from '../../../../engine/types.js';
import { MAX_BATCH_SIZE, type Settings } from '../../../settings.js';

export interface WorkFlags {
  follow?: boolean;
  batchSize?: string;
  wait?: string;
  /** commander has checked it is one of these. */
  onError?: 'stop' | 'skip';
  lease?: string;
}

/** `--wait`: one deadline for every lock the command takes, and the wait as the user wrote it. */
export interface LockWait {
  deadline: number;
  asked?: string;
  /** `--lease`. */
  leaseMs: number;
}

/** The flags, checked before anything opens. */
export interface CheckedFlags {
  batchSize?: number;
  onError?: 'stop' | 'skip';
  follow?: boolean;
  lock: LockWait;
}

export function checkFlags(flags: WorkFlags): CheckedFlags {
  const batchSize = flags.batchSize === undefined ? undefined : parseWholeNumber(flags.batchSize, '--batch-size', 1);
  if (batchSize !== undefined && batchSize > MAX_BATCH_SIZE) {
    throw usage(`--batch-size: at most ${MAX_BATCH_SIZE.toLocaleString('en-US')} (a batch is held in memory whole)`);
  }
  const waitMs = flags.wait === undefined ? 0 : parseDuration(flags.wait, '--wait');
  const leaseMs = flags.lease === undefined ? LOCK_TTL_MS : parseDuration(flags.lease, '--lease');
  if (leaseMs < MIN_LEASE_MS) throw usage(`--lease: at least ${MIN_LEASE_MS / 1000}s (it is renewed every third of it)`);
  // Taken before the store opens, so the whole command, not each projection, waits at most --wait.
  const lock: LockWait = { deadline: Date.now() + waitMs, asked: flags.wait?.trim(), leaseMs };
  return { batchSize, onError: flags.onError, follow: flags.follow, lock };
}

/** What every projection's run shares: where incidents go, the stop signal, the opened targets and publishers. */
export type SharedOptions = Pick<RunOptions, 'onIncident' | 'signal' | 'targets' | 'publishers'>;

/** A projection's run options, and the lock to take for it. */
export type OptionsFor = (projection: Projection<unknown>) => RunOptions & LockWait;

/** A flag beats the projection's own options in es.config.json, which beat the file's defaults. */
export function optionsFrom(settings: Settings, flags: CheckedFlags, shared: SharedOptions): OptionsFor {
  return (projection) => {
    const own = settings.projectionOptions[projection.name] ?? {};
    return {
      batchSize: flags.batchSize ?? own.batchSize ?? settings.batchSize,
      onError: flags.onError ?? own.onError ?? settings.onError,
      follow: flags.follow,
      ...shared,
      ...flags.lock,
    };
  };
}
