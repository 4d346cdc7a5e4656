/** A value, or a promise of it: synchronous drivers (better-sqlite3) answer inside their transaction. */
export type Maybe<T> = T | Promise<T>;

export const isThenable = (value: unknown): value is PromiseLike<unknown> => typeof (value as { then?: unknown } | null)?.then === 'function';

/**
 * Runs `next` on a value that may be a promise, without making a synchronous chain asynchronous:
 * code inside a better-sqlite3 transaction must finish before the transaction function returns.
 */
export function chain<T, U>(value: T | Promise<T>, next: (value: T) => U | Promise<U>): U | Promise<U> {
  return isThenable(value) ? Promise.resolve(value).then(next) : next(value as T);
}

/** `chain` for a step that may throw, synchronously or by rejecting: `onError` maps the error. */
export function guard<T>(work: () => T | Promise<T>, onError: (error: unknown) => unknown): T | Promise<T> {
  let result: T | Promise<T>;
  try {
    result = work();
  } catch (error) {
    throw onError(error);
  }
  return isThenable(result)
    ? Promise.resolve(result).catch((error: unknown) => {
        throw onError(error);
      })
    : result;
}
