import type { FaultInfo } from './checkpoint.js';
import type { RunResult } from './types.js';

/** A fault that no single event caused (setup, reset, a lock): the event fields stay null. */
export function fault(message: string): FaultInfo {
  return { message, position: null, eventId: null, type: null };
}

/** The result of a projection that processed nothing: refused, stale, failed before its first batch. */
export function idleResult(name: string, from: number, state: RunResult['state'], extra: Partial<RunResult> = {}): RunResult {
  return { name, from, to: from, processed: 0, durationMs: 0, state, error: null, interrupted: false, deadLettered: 0, ...extra };
}
