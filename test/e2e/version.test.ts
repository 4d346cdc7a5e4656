import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { cleanupTempDirs, es, tempDir } from './helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
afterAll(cleanupTempDirs);

it('es --version prints the version of package.json', () => {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  expect(es(tempDir(), ['--version']).stdout.trim()).toBe(version);
});

it('follows package.json when the version changes (not a copy in the code)', () => {
  const copy = tempDir('es-version-');
  for (const part of ['bin', 'dist']) cpSync(join(ROOT, part), join(copy, part), { recursive: true });
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(copy, 'package.json'), JSON.stringify({ ...pkg, version: '9.8.7-test' }));
  symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
  const result = spawnSync(process.execPath, [join(copy, 'bin/es.js'), '--version'], { encoding: 'utf8' });
  expect(result.stdout.trim()).toBe('9.8.7-test');
});
