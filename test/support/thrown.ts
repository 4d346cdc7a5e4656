/** The error a call throws; an Error without a code when it does not throw, so matchers say so. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return new Error('(the call did not throw)');
}
