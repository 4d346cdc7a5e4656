import { isEsError, type EsError } from '../core/errors.js';
import type { Fence } from '../ports/event-store.js';
import type { RunOptions } from './types.js';

/** The `fences` of a commit made for these projections: the leases their runner holds, if any. */
export function fenced(options: Pick<RunOptions, 'fenceFor'>, names: readonly string[]): { fences?: Fence[] } {
  if (!options.fenceFor) return {};
  const fences = names.map((name) => options.fenceFor?.(name)).filter((f): f is Fence => f !== undefined);
  return fences.length > 0 ? { fences } : {};
}

/**
 * A commit refused because another process took the projection over: its lease (a fenced commit),
 * or its checkpoint (moved meanwhile). The run stops and says so; nothing more of it was committed.
 */
export function isLeaseLoss(error: unknown): error is EsError {
  return isEsError(error) && error.code === 'LOCKED' && (error.details?.fenced === true || error.details?.moved === true);
}
