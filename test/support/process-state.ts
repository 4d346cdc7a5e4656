/**
 * What a test can see of a child process from outside, on Linux: whether it traps stop signals yet
 * (with a probe preloaded into it), what its main thread is blocked in, which files it has open. For
 * waiting until a child really waits (for a lock, say) before acting on it, instead of sleeping.
 */
import { readFileSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';

const PROBE = new URL('./stop-signal-probe.mjs', import.meta.url);
const TRAPPED = 'es-test-probe: SIGTERM trapped';

/** Environment for an `es` child that says on stderr when it starts trapping SIGTERM. */
export function stopSignalProbeEnv(): Record<string, string> {
  return { NODE_OPTIONS: `--import=${PROBE.href}` };
}

/** Whether a child started with stopSignalProbeEnv() has said it traps SIGTERM. */
export function trapsStopSignals(stderr: string): boolean {
  return stderr.includes(TRAPPED);
}

// System call numbers, by architecture: waiting for events (an idle event loop), and sleeping
// synchronously (Atomics.wait, a busy handler's sleep).
const CALLS: Record<string, { eventLoop: number[]; sleep: number[] }> = {
  x64: { eventLoop: [232, 281, 441], sleep: [202, 449, 35, 230] },
  arm64: { eventLoop: [22, 441], sleep: [98, 449, 101, 115] },
};

/**
 * What the main thread of `pid` is doing: idle in its event loop (waiting for a timer or I/O),
 * sleeping synchronously (blocked in futex or nanosleep: Atomics.wait, a busy wait), something else,
 * gone, or unknown (no /proc/<pid>/syscall to read, or another architecture).
 */
export function mainThread(pid: number): 'event-loop' | 'sleeping' | 'other' | 'gone' | 'unknown' {
  const calls = CALLS[process.arch];
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/syscall`, 'utf8');
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'gone' : 'unknown';
  }
  if (!calls) return 'unknown';
  const nr = Number(text.split(' ')[0]);
  if (calls.eventLoop.includes(nr)) return 'event-loop';
  if (calls.sleep.includes(nr)) return 'sleeping';
  return 'other';
}

/** Whether `pid` has `file` open. */
export function hasOpen(pid: number, file: string): boolean {
  let wanted: string;
  try {
    wanted = realpathSync(file);
  } catch {
    return false;
  }
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === wanted;
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

/** A check that holds once `check` has held on `times` looks in a row (a state, not a passing moment). */
export function inARow(check: () => boolean, times = 3): () => boolean {
  let streak = 0;
  return () => {
    streak = check() ? streak + 1 : 0;
    return streak >= times;
  };
}

/**
 * Resolves once an `es` child started with stopSignalProbeEnv() has trapped SIGTERM and then sits idle
 * in its event loop (three looks in a row): for a command that takes a projection's lock, that is
 * after its first look at a held lock, waiting to look again. Throws after `timeoutMs`.
 */
export async function untilWaiting(pid: number, stderr: () => string, what: string, timeoutMs = 15_000): Promise<void> {
  const idle = inARow(() => trapsStopSignals(stderr()) && ['event-loop', 'unknown'].includes(mainThread(pid)));
  const deadline = Date.now() + timeoutMs;
  while (!idle()) {
    if (Date.now() > deadline) throw new Error(`${what} did not start waiting within ${timeoutMs} ms; its stderr:\n${stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
