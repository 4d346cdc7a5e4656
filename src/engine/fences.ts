import type { Fence } from '../ports/event-store.js';
import type { RunOptions } from './types.js';

/** The `fences` of a commit made for these projections: the leases their runner holds, if any. */
export function fenced(options: Pick<RunOptions, 'fenceFor'>, names: readonly string[]): { fences?: Fence[] } {
  if (!options.fenceFor) return {};
  const fences = names.map((name) => options.fenceFor?.(name)).filter((f): f is Fence => f !== undefined);
  return fences.length > 0 ? { fences } : {};
}
