import { EsError, type ErrorCode } from '../../../../core/errors.js';
import type { Outcome } from './present.js';

/** Which failure decides the exit when several happened: the environment (3), then a held lock (75), then a fault (1). */
const SEVERITY: ErrorCode[] = ['ENVIRONMENT', 'LOCKED', 'FAULTED'];

/**
 * Throws the command's exit, every outcome having been reported: the worst failure, else the stop
 * signal (a follower's normal end, so not for it), else a faulted or stale-version projection.
 */
export function exitFor(outcomes: readonly Outcome[], received: NodeJS.Signals | undefined, follow: boolean | undefined): void {
  const failures = outcomes.flatMap((o) => (o.failure ? [o.failure] : []));
  const worst = SEVERITY.find((code) => failures.some((f) => f.code === code));
  if (worst) throw new EsError(worst, '', { details: { reported: true } });
  if (received && !follow) {
    throw new EsError('INTERRUPTED', '', { details: { reported: true, signal: received } });
  }
  if (outcomes.some((o) => o.result.state === 'faulted' || o.result.state === 'stale-version')) {
    throw new EsError('FAULTED', '', { details: { reported: true } });
  }
}
