import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { baseEnv, cleanupTempDirs, ES_BIN, jsonLines, es, tempDir, writeFile } from './helpers.js';

afterAll(cleanupTempDirs);

const LIBRARY = pathToFileURL(join(import.meta.dirname, '../../dist/index.js')).href;

function run(cwd: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd, env: baseEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

describe('first writers at once on a missing store', () => {
  it('CLI appends and library openStore({ create: true }) racing to create it all succeed, and every event is there', async () => {
    const ROUNDS = 5;
    const CLI = 4;
    const LIB = 3;
    for (let round = 0; round < ROUNDS; round++) {
      const dir = tempDir('es-first-');
      // A folder that does not exist yet either: the writers race to make it too.
      const db = join(dir, 'nested', 'c.db');
      const script = writeFile(
        dir,
        'lib.mjs',
        `import { openStore } from ${JSON.stringify(LIBRARY)};
const store = await openStore(${JSON.stringify(`sqlite:${db}`)}, { create: true });
await store.append(process.argv[2], [{ type: 'L' }]);
await store.close();
`,
      );
      const runs = [
        ...Array.from({ length: CLI }, (_, i) => run(dir, [ES_BIN, '--db', db, 'append', `cli-${i}`, 'A'])),
        ...Array.from({ length: LIB }, (_, i) => run(dir, [script, `lib-${i}`])),
      ];
      const results = await Promise.all(runs);
      for (const r of results) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      const read = es(dir, ['--db', db, 'read', '--json']);
      expect(read.code).toBe(0);
      const streams = jsonLines(read.stdout)
        .map((e) => e.streamId)
        .sort();
      expect(streams).toEqual([...Array.from({ length: CLI }, (_, i) => `cli-${i}`), ...Array.from({ length: LIB }, (_, i) => `lib-${i}`)].sort());
    }
  });
});
