import type { ErrorCode } from '../core/errors.js';
import { classifyError as postgres } from './postgres/errors.js';
import { classifyError as sqlite } from './sqlite/errors.js';

export interface DriverErrorClass {
  code: ErrorCode;
  message: string;
}

/** Each driver tells its own errors apart; none of these loads a driver package. */
const CLASSIFIERS: readonly ((error: unknown) => DriverErrorClass | null)[] = [sqlite, postgres];

/**
 * An error a driver threw that reached the CLI as it was (a store damaged or busy, a server gone):
 * what to say and the code of its exit status. Null when no driver knows it.
 */
export function classifyError(error: unknown): DriverErrorClass | null {
  for (const classify of CLASSIFIERS) {
    const known = classify(error);
    if (known) return known;
  }
  return null;
}
