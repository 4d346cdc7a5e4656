import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { stopSignalProbeEnv, untilWaiting } from '../support/process-state.js';
import { appendMany, cleanupTempDirs, es, esBackground, parseJson, tempDir, waitFor, writeFile, writeRecorder } from './helpers.js';

const running: ReturnType<typeof esBackground>[] = [];
afterEach(() => {
  for (const b of running.splice(0)) if (b.child.exitCode === null && b.child.signalCode === null) b.child.kill('SIGKILL');
});
afterAll(cleanupTempDirs);

function background(dir: string, args: string[], env: Record<string, string> = {}) {
  const b = esBackground(dir, args, env);
  running.push(b);
  return b;
}

/**
 * `es <args>` that will wait for a lock, once it waits: es says nothing while it waits and the lock
 * row records no waiters, so a probe preloaded into the child says when it traps SIGTERM (just before
 * it takes its locks), and its main thread idling in the event loop after that shows it between two
 * looks at the held lock.
 */
async function waiter(dir: string, args: string[]) {
  const b = background(dir, args, stopSignalProbeEnv());
  await untilWaiting(b.child.pid as number, () => b.output().stderr, `es ${args.join(' ')}`);
  return b;
}

/**
 * Two projections that a `--follow` runner holds. `other` has its own batch size in es.config.json,
 * so a `run` of both works on them in two groups, one after the other.
 */
async function heldWorkspace() {
  const dir = tempDir('es-lockwait-');
  writeRecorder(join(dir, 'projections'), 'rec');
  writeRecorder(join(dir, 'projections'), 'other');
  writeFile(dir, 'es.config.json', JSON.stringify({ projectionOptions: { other: { batchSize: 7 } } }));
  appendMany(dir, 'orders', 'OrderPlaced', 5);
  const holder = background(dir, ['project', 'run', '--follow']);
  const ready = await waitFor(() => {
    const status = parseJson(es(dir, ['project', 'status', '--json']).stdout);
    return status.projections.every((p: { state: string }) => p.state === 'up-to-date');
  }, 15_000);
  expect(ready, holder.output().stderr).toBe(true);
  return { dir, holder };
}

describe('run --wait', () => {
  it('is one deadline for the whole command, and its refusals do not advise passing --wait', async () => {
    const { dir, holder } = await heldWorkspace();
    const started = Date.now();
    const r = background(dir, ['project', 'run', 'rec', 'other', '--wait', '2s']);
    // When each refusal line arrives: a group is reported as soon as its locks are settled.
    const arrivals: number[] = [];
    r.child.stderr?.on('data', (chunk: string) => {
      for (const _ of chunk.matchAll(/\n/g)) arrivals.push(Date.now());
    });
    const exit = await r.exited;
    const took = Date.now() - started;
    expect(exit.code).toBe(75);
    expect(took).toBeGreaterThanOrEqual(1900);
    // Not 2 s for each of the two groups: the second group is refused right after the first one's
    // wait ran out, where a deadline of its own would keep it 2 s more. Timed between the two lines,
    // not over the whole command, whose start and exit alone took 2 s on a loaded machine.
    expect(arrivals).toHaveLength(2);
    expect((arrivals[1] as number) - (arrivals[0] as number)).toBeLessThan(1500);
    const lines = r.output().stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line).toMatch(/^es: (rec|other) is being run by pid \d+/);
      expect(line).toContain('--wait 2s');
      expect(line).not.toContain('pass --wait');
    }
    holder.child.kill('SIGTERM');
    expect((await holder.exited).code).toBe(0);
  });

  for (const command of [['run'], ['rebuild']]) {
    it(`a signal while waiting, with a free projection named beside the held one (${command[0]}): 143, the free one untouched`, async () => {
      const { dir, holder } = await heldWorkspace();
      writeRecorder(join(dir, 'projections'), 'free');
      expect(es(dir, ['project', 'run', 'free']).code).toBe(0);
      // The holder follows rec and other; free is not held. One group (same options): rec, free.
      const waiting = await waiter(dir, ['project', ...command, 'rec', 'free', '--wait', '60s', '--json']);
      waiting.child.kill('SIGTERM');
      const end = await Promise.race([waiting.exited, new Promise((resolve) => setTimeout(() => resolve('timeout'), 10_000))]);
      const { stdout, stderr } = waiting.output();
      expect(end, stderr).toEqual({ code: 143, signal: null });
      expect(stderr).not.toMatch(/unexpected error/);
      const rows = parseJson(stdout).projections as { name: string; state: string }[];
      expect(rows.map((row) => row.name).sort()).toEqual(['free', 'rec']);
      // Nothing of free was reset: its checkpoint stream ends with a Checkpoint, not RebuildStarted.
      const free = es(dir, ['read', '--stream', '$checkpoint-free', '--json']).stdout.trim().split('\n');
      expect(JSON.parse(free[free.length - 1] as string).type).toBe('Checkpoint');
      holder.child.kill('SIGTERM');
      expect((await holder.exited).code).toBe(0);
    });
  }

  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    it(`${signal} while waiting for a held projection exits ${code}, not 75`, async () => {
      const { dir, holder } = await heldWorkspace();
      const waiting = await waiter(dir, ['project', 'run', '--wait', '60s', '--json']);
      expect(waiting.child.exitCode).toBeNull();
      waiting.child.kill(signal);
      const end = await Promise.race([waiting.exited, new Promise((resolve) => setTimeout(() => resolve('timeout'), 10_000))]);
      const { stdout, stderr } = waiting.output();
      expect(end, stderr).toEqual({ code, signal: null });
      expect(stderr).not.toContain('still held');
      expect(stderr).toMatch(/interrupted/);
      const rows = parseJson(stdout).projections as { name: string; state: string }[];
      expect(rows.map((row) => row.state)).not.toContain('locked');
      holder.child.kill('SIGTERM');
      expect((await holder.exited).code).toBe(0);
    });
  }
});
