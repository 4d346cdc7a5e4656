/**
 * Turns SIGINT/SIGTERM into an AbortSignal, so a command stops between two batches or polls (the
 * batch under way commits first) and decides its exit code itself instead of dying mid-write.
 */
export interface SignalTrap {
  signal: AbortSignal;
  received(): NodeJS.Signals | undefined;
  release(): void;
}

export function trapStopSignals(): SignalTrap {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    received ??= signal;
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    received: () => received,
    release: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
