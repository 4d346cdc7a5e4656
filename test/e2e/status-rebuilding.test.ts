import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { appendMany, cleanupTempDirs, es, esBackground, parseJson, tempDir, waitFor, writeFile } from './helpers.js';

afterAll(cleanupTempDirs);
const running: ReturnType<typeof esBackground>[] = [];
afterEach(() => {
  for (const b of running.splice(0)) if (b.child.exitCode === null && b.child.signalCode === null) b.child.kill('SIGKILL');
});

/** A projection that stops at its third event until the file `gate` exists (for at most 30 s). */
function gatedProjection(dir: string): string {
  const gate = join(dir, 'gate');
  writeFile(
    dir,
    'projections/slow.mjs',
    `import { existsSync } from 'node:fs';
export default {
  name: 'slow',
  reset() {},
  handlers: {
    '*'(event) {
      const until = Date.now() + 30_000;
      while (event.position >= 3 && !existsSync(${JSON.stringify(gate)}) && Date.now() < until) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    },
  },
};
`,
  );
  return gate;
}

const stateOf = (dir: string): string => parseJson(es(dir, ['project', 'status', '--json']).stdout).projections[0].state;

describe('es project status while another process rebuilds', () => {
  it('shows rebuilding (not behind), and up-to-date once the rebuild is done', async () => {
    const dir = tempDir('es-status-rebuilding-');
    const gate = gatedProjection(dir);
    writeFile(dir, 'gate', '');
    appendMany(dir, 'orders', 'OrderPlaced', 6);
    expect(es(dir, ['project', 'run']).code).toBe(0);
    expect(stateOf(dir)).toBe('up-to-date');

    rmSync(gate);
    const rebuild = esBackground(dir, ['project', 'rebuild', 'slow', '--batch-size', '1']);
    running.push(rebuild);
    const seen: string[] = [];
    const rebuilding = await waitFor(
      () => {
        seen.push(stateOf(dir));
        return seen.at(-1) === 'rebuilding';
      },
      20_000,
      100,
    );
    expect(rebuilding, `states seen: ${[...new Set(seen)].join(', ')}; ${rebuild.output().stderr}`).toBe(true);
    const table = es(dir, ['project', 'status']);
    expect(table.stdout).toMatch(/^slow .* rebuilding /m);

    writeFile(dir, 'gate', '');
    expect((await rebuild.exited).code, rebuild.output().stderr).toBe(0);
    expect(stateOf(dir)).toBe('up-to-date');
  }, 60_000);
});
