import type { RunResult } from './types.js';

export { fault } from './checkpoints.js';

/** The result of a projection that processed nothing: refused, stale, failed before its first batch. */
export function idleResult(name: string, from: number, state: RunResult['state'], extra: Partial<RunResult> = {}): RunResult {
  return { name, from, to: from, processed: 0, durationMs: 0, state, error: null, interrupted: false, deadLettered: 0, ...extra };
}
