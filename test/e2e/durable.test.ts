import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { appendOne, baseEnv, cleanupTempDirs, tempDir, writeFile } from './helpers.js';

afterAll(cleanupTempDirs);

const STRACE = ['/usr/bin/strace', '/bin/strace'].find((path) => existsSync(path));
const LIBRARY = pathToFileURL(join(import.meta.dirname, '../../dist/index.js')).href;
if (!STRACE) {
  // Said out loud: a skipped durability check must not pass for a green one.
  console.warn('durable.test.ts: strace is not installed; the fsync count of library appends did NOT run');
}

/** fsync/fdatasync calls made by a process that opens an existing store and runs `body`. */
function syncCalls(dir: string, body: string): number {
  const script = writeFile(
    dir,
    'appender.mjs',
    `import { openStore } from ${JSON.stringify(LIBRARY)};
const store = await openStore('sqlite:' + ${JSON.stringify(join(dir, '.es/events.db'))});
${body}
// No close(): closing checkpoints the WAL, which syncs whatever the appends left unsynced.
process.exit(0);
`,
  );
  const trace = join(dir, 'strace.txt');
  const r = spawnSync(STRACE as string, ['-f', '-e', 'trace=fsync,fdatasync', '-o', trace, process.execPath, script], {
    cwd: dir,
    env: baseEnv(),
    encoding: 'utf8',
  });
  expect(r.status, r.stderr).toBe(0);
  return readFileSync(trace, 'utf8')
    .split('\n')
    .filter((line) => /\b(fsync|fdatasync)\(/.test(line) && /= 0$/.test(line)).length;
}

describe('appends are durable when they return', () => {
  it.skipIf(!STRACE)('five library appends make at least five fsyncs; the store was created beforehand', () => {
    const dir = tempDir('es-durable-');
    appendOne(dir, 'setup', 'Created');
    const calls = syncCalls(dir, `for (let i = 0; i < 5; i++) await store.append('orders-' + i, [{ type: 'OrderPlaced' }]);`);
    expect(calls).toBeGreaterThanOrEqual(5);
  });

  it.skipIf(!STRACE)('five appendMany calls (import, demo) make at least five fsyncs', () => {
    const dir = tempDir('es-durable-');
    appendOne(dir, 'setup', 'Created');
    const calls = syncCalls(dir, `for (let i = 0; i < 5; i++) await store.appendMany([{ streamId: 'a-' + i, type: 'X' }, { streamId: 'b-' + i, type: 'Y' }]);`);
    expect(calls).toBeGreaterThanOrEqual(5);
  });
});
