import { EsError, errorMessage } from '../../core/errors.js';
import type { Target } from '../../ports/target.js';

/**
 * A target still unreachable after the retries (about 15 s): an ENVIRONMENT error naming the
 * projection and the target (exit 3), rather than a driver's error. Other errors pass through.
 */
export function targetLost(name: string, target: Target, error: unknown): unknown {
  if (!target.isTransient(error)) return error;
  return new EsError('ENVIRONMENT', `${name}: target ${target.display}: ${errorMessage(error)}`, { cause: error });
}
