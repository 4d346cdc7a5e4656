/**
 * Errors carry a stable `code`; the CLI entry is the only place that maps a code to an exit status.
 * Recognise them by `code` (see `isEsError`), not by `instanceof`: a projection file may load a second
 * copy of this module.
 */
export type ErrorCode = 'USAGE' | 'ENVIRONMENT' | 'CONFLICT' | 'LOCKED' | 'FAULTED' | 'UNHEALTHY' | 'INTERRUPTED';

export class EsError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EsError';
    this.code = code;
    this.details = options?.details;
  }
}

export function isEsError(error: unknown): error is EsError {
  return error instanceof Error && typeof (error as { code?: unknown }).code === 'string' && error.name === 'EsError';
}

export const usage = (message: string): EsError => new EsError('USAGE', message);
export const environment = (message: string, cause?: unknown): EsError => new EsError('ENVIRONMENT', message, { cause });

export const EXIT_CODES: Record<ErrorCode, number> = {
  FAULTED: 1,
  UNHEALTHY: 1,
  USAGE: 2,
  ENVIRONMENT: 3,
  CONFLICT: 4,
  LOCKED: 75,
  INTERRUPTED: 130,
};

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
