/**
 * The published package as a user gets it: `npm pack`, installed into an empty project from the
 * tarball (its dependencies come from the npm registry and better-sqlite3 is compiled), then the
 * README's first command and its TypeScript examples, compiled strictly against the shipped `.d.ts`.
 * The database and broker clients are optional peer dependencies: installed alone, the package
 * brings none of them, and what needs one says which to install.
 *
 * Not part of `npm test`: installing and compiling takes minutes. `.ci/run` runs it after the suite
 * (`npm run test:pack`).
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const work = mkdtempSync(join(tmpdir(), 'es-pack-'));
const app = join(work, 'app');

/** The environment without what `npm run` adds, so the nested npm sees an ordinary project. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(npm_|ES_|NODE_OPTIONS$|INIT_CWD$)/i.test(key)) env[key] = value;
  }
  return { ...env, NO_COLOR: '1' };
}

function run(command: string, args: string[], cwd: string, options: SpawnSyncOptions = {}) {
  const r = spawnSync(command, args, { cwd, env: userEnv(), encoding: 'utf8', timeout: 600_000, ...options });
  if (r.error) throw r.error;
  return { code: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** The body of the first ```ts block after a README heading: the test checks what users copy. */
function readmeExample(heading: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf(`\n## ${heading}\n`));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  if (!match?.[1]) throw new Error(`README: no TypeScript example under "## ${heading}"`);
  return match[1];
}

let tarball = '';
let files: string[] = [];

beforeAll(() => {
  const packed = run('npm', ['pack', '--json', '--pack-destination', work], ROOT);
  expect(packed.code, packed.stderr).toBe(0);
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  tarball = join(work, info!.filename);
  files = info!.files.map((f) => f.path);
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'shop-app', private: true, type: 'module' }, null, 2));
  const installed = run('npm', ['install', '--no-audit', '--no-fund', tarball], app);
  expect(installed.code, installed.stderr).toBe(0);
}, 900_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the packed tarball', () => {
  it('holds the command, the bundles, the declarations and the demo projections, and no sources or tests', () => {
    for (const file of ['bin/es.js', 'dist/cli/main.js', 'dist/index.js', 'dist/index.d.ts', 'package.json']) {
      expect(files).toContain(file);
    }
    expect(files.filter((f) => f.startsWith('projections/')).length).toBeGreaterThan(0);
    expect(files.filter((f) => /^(src|test|bench)\//.test(f))).toEqual([]);
  });

  it('runs `npx es demo` in an empty project', () => {
    // --no: never fetch a package named like the command from the registry when the bin is missing.
    const demo = run('npx', ['--no', 'es', 'demo'], app);
    expect(demo.stderr).toBe('');
    expect(demo.code).toBe(0);
    expect(demo.stdout).toMatch(/wrote the demo shop to .*: 15,900 new events/);
    expect(demo.stdout).toMatch(/order-summary up-to-date/);
  }, 120_000);

  it('brings none of the optional drivers, and names the one to install when a URL needs it (exit 3)', () => {
    for (const name of ['pg', 'mysql2', 'amqplib', '@nats-io']) expect(existsSync(join(app, 'node_modules', name)), name).toBe(false);

    const store = run('npx', ['--no', 'es', 'read', '--db', 'postgres://127.0.0.1:1/x'], app);
    expect(store.stderr).toBe('es: postgres:// needs the pg package, which is not installed: npm install pg\n');
    expect(store.code).toBe(3);

    // Projections of their own (and a store of their own), beside the ones the other tests use.
    mkdirSync(join(app, 'peers'));
    writeFileSync(
      join(app, 'peers', 'search.mjs'),
      "export default { name: 'search', target: 'mysql://root@127.0.0.1:1/x', handlers: { OrderPlaced() {} } };\n",
    );
    writeFileSync(join(app, 'peers', 'feed.mjs'), "export default { name: 'feed', publish: { to: 'nats://127.0.0.1:1', subject: 'shop.{type}' } };\n");
    const db = ['--db', 'peers.db', '--projections', 'peers'];
    expect(run('npx', ['--no', 'es', 'append', 'order-1', 'OrderPlaced', '{}', ...db], app).code).toBe(0);
    const target = run('npx', ['--no', 'es', 'project', 'run', 'search', ...db], app);
    expect(target.stderr).toBe('es: search: target mysql:// needs the mysql2 package, which is not installed: npm install mysql2\n');
    expect(target.code).toBe(3);
    const publish = run('npx', ['--no', 'es', 'project', 'run', 'feed', ...db], app);
    expect(publish.stderr).toBe(
      'es: nats:// needs the @nats-io/transport-node package, which is not installed: npm install @nats-io/transport-node @nats-io/jetstream\n',
    );
    expect(publish.code).toBe(3);
  }, 120_000);

  it("compiles the README's projection and library example under strict TypeScript, and runs them", () => {
    mkdirSync(join(app, 'projections'));
    writeFileSync(join(app, 'projections', 'order-totals.ts'), readmeExample('Projections'));
    writeFileSync(join(app, 'from-code.ts'), readmeExample('From code'));
    // skipLibCheck off: the shipped declarations themselves must type-check with what users get.
    const tsconfig = {
      compilerOptions: {
        strict: true,
        noUncheckedIndexedAccess: true,
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        target: 'ES2022',
        noEmit: true,
        skipLibCheck: false,
      },
      include: ['projections', 'from-code.ts'],
    };
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
    const tsc = run(process.execPath, [TSC, '-p', 'tsconfig.json'], app);
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.code).toBe(0);

    const projected = run('npx', ['--no', 'es', 'project', 'run', 'order-totals', '--json'], app);
    expect(projected.code, projected.stderr).toBe(0);
    const row = (JSON.parse(projected.stdout) as { projections: { name: string; processed: number; state: string }[] }).projections[0];
    expect(row).toMatchObject({ name: 'order-totals', state: 'up-to-date' });
    expect(row!.processed).toBeGreaterThan(1000);

    // The library example is plain JavaScript once its types are gone; run it as such.
    copyFileSync(join(app, 'from-code.ts'), join(app, 'from-code.mjs'));
    const library = run(process.execPath, ['from-code.mjs'], app);
    expect(library.stderr).toBe('');
    expect(library.code).toBe(0);
  }, 120_000);
});
