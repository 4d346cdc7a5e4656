/**
 * The database and broker clients (pg, mysql2, amqplib, the NATS client) are optional peer
 * dependencies: without one, what needs it is refused with one line naming the package to install,
 * exit 3, and everything else works. The CLI half runs this repository's build from a copy whose
 * node_modules holds links to the package's own dependencies only, as in a project that installed
 * es for SQLite: nothing is uninstalled. (`npm run test:pack` checks the same on the real tarball.)
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, realpathSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMissingPackage, loadDriver } from '../../src/drivers/require-driver.js';
import { baseEnv, cleanupTempDirs, tempDir, writeFile } from './helpers.js';

afterAll(cleanupTempDirs);

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PEERS = ['pg', 'mysql2', 'amqplib', '@nats-io/transport-node', '@nats-io/jetstream'];

describe('loadDriver', () => {
  it('turns a package that is not installed into one ENVIRONMENT line saying what to install', async () => {
    const error = await loadDriver('es-no-such-driver-pkg', 'postgres://').catch((e: unknown) => e);
    expect(error).toMatchObject({
      name: 'EsError',
      code: 'ENVIRONMENT',
      message: 'postgres:// needs the es-no-such-driver-pkg package, which is not installed: npm install es-no-such-driver-pkg',
    });
    const scoped = await loadDriver('@es-no-such-scope/client', 'nats://', ['@es-no-such-scope/client', '@es-no-such-scope/extra']).catch((e: unknown) => e);
    expect((scoped as Error).message).toBe(
      'nats:// needs the @es-no-such-scope/client package, which is not installed: npm install @es-no-such-scope/client @es-no-such-scope/extra',
    );
  });

  it('gives an installed package its CommonJS exports, or its namespace', async () => {
    const mysql = await loadDriver<{ createPool?: unknown }>('mysql2/promise', 'mysql://');
    expect(typeof mysql.createPool).toBe('function');
    const nats = await loadDriver<{ connect?: unknown }>('@nats-io/transport-node', 'nats://');
    expect(typeof nats.connect).toBe('function');
  });

  it('says "not installed" only of the package itself, not of a file or a package it needs', () => {
    const esm = (message: string) => Object.assign(new Error(message), { code: 'ERR_MODULE_NOT_FOUND' });
    const cjs = (message: string) => Object.assign(new Error(message), { code: 'MODULE_NOT_FOUND' });
    expect(isMissingPackage(esm("Cannot find package 'pg' imported from /app/node_modules/catchup-projections/dist/index.js"), 'pg')).toBe(true);
    expect(isMissingPackage(esm("Cannot find package 'mysql2' imported from /app/x.js"), 'mysql2/promise')).toBe(true);
    expect(isMissingPackage(cjs("Cannot find module 'mysql2/promise'\nRequire stack:\n- /app/x.js"), 'mysql2/promise')).toBe(true);
    // pg is there, one of its own dependencies is not: a broken install, reported as it is.
    expect(isMissingPackage(esm("Cannot find package 'pg-pool' imported from /app/node_modules/pg/lib/index.js"), 'pg')).toBe(false);
    expect(isMissingPackage(cjs("Cannot find module 'pg-pool'\nRequire stack:\n- /app/node_modules/pg/lib/index.js"), 'pg')).toBe(false);
    // A file missing inside the package.
    expect(isMissingPackage(esm("Cannot find module '/app/node_modules/pg/esm/index.mjs' imported from /app/x.js"), 'pg')).toBe(false);
    expect(isMissingPackage(Object.assign(new Error("Cannot find package 'pg'"), { code: 'EACCES' }), 'pg')).toBe(false);
  });
});

describe('the CLI and the library without the optional drivers', () => {
  let pkg = '';
  let app = '';

  beforeAll(() => {
    const dir = tempDir('es-no-drivers-');
    pkg = join(dir, 'pkg');
    app = join(dir, 'app');
    for (const entry of ['bin', 'dist', 'projections', 'package.json']) cpSync(join(ROOT, entry), join(pkg, entry), { recursive: true });
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    for (const name of Object.keys(manifest.dependencies)) {
      mkdirSync(dirname(join(pkg, 'node_modules', name)), { recursive: true });
      symlinkSync(realpathSync(join(ROOT, 'node_modules', name)), join(pkg, 'node_modules', name));
    }
    mkdirSync(join(app, 'node_modules'), { recursive: true });
    writeFile(app, 'package.json', JSON.stringify({ name: 'shop-app', private: true, type: 'module' }));
    symlinkSync(pkg, join(app, 'node_modules', 'catchup-projections'));
    // The premise: from the copied build, no peer can be found (none above the temporary folder either).
    const require = createRequire(join(pkg, 'dist', 'index.js'));
    for (const name of PEERS) expect(() => require.resolve(name), name).toThrow();
  });

  const run = (args: string[]) => {
    const r = spawnSync(process.execPath, [join(pkg, 'bin', 'es.js'), ...args], {
      cwd: app,
      encoding: 'utf8',
      timeout: 30_000,
      env: baseEnv({ NO_COLOR: '1' }),
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it('works on SQLite', () => {
    expect(run(['append', 'order-1', 'OrderPlaced', '{}'])).toMatchObject({ code: 0, stderr: '' });
    expect(run(['read', '--json'])).toMatchObject({ code: 0, stderr: '' });
  });

  it('refuses a postgres:// store with one line naming `npm install pg`, exit 3', () => {
    for (const args of [
      ['read', '--db', 'postgres://127.0.0.1:1/x'],
      ['append', 's', 'T', '{}', '--db', 'postgresql://127.0.0.1:1/x'],
    ]) {
      const r = run(args);
      expect(r, args.join(' ')).toMatchObject({ code: 3, stdout: '' });
      expect(r.stderr, args.join(' ')).toBe('es: postgres:// needs the pg package, which is not installed: npm install pg\n');
    }
  });

  it('refuses a mysql:// or postgres:// target, and a nats:// or amqp:// publish, naming the package', () => {
    writeFile(app, 'peers/search.mjs', "export default { name: 'search', target: 'mysql://root@127.0.0.1:1/x', handlers: { OrderPlaced() {} } };\n");
    writeFile(app, 'peers/totals.mjs', "export default { name: 'totals', target: 'postgres://127.0.0.1:1/x', handlers: { OrderPlaced() {} } };\n");
    writeFile(app, 'peers/feed.mjs', "export default { name: 'feed', publish: { to: 'nats://127.0.0.1:1', subject: 'shop.{type}' } };\n");
    writeFile(app, 'peers/billing.mjs', "export default { name: 'billing', publish: { to: 'amqp://127.0.0.1:1', exchange: 'shop', routingKey: '{type}' } };\n");
    const expected: Record<string, string> = {
      search: 'es: search: target mysql:// needs the mysql2 package, which is not installed: npm install mysql2\n',
      totals: 'es: totals: target postgres:// needs the pg package, which is not installed: npm install pg\n',
      feed: 'es: nats:// needs the @nats-io/transport-node package, which is not installed: npm install @nats-io/transport-node @nats-io/jetstream\n',
      billing: 'es: amqp:// needs the amqplib package, which is not installed: npm install amqplib\n',
    };
    for (const [name, line] of Object.entries(expected)) {
      const r = run(['project', 'run', name, '--projections', 'peers']);
      expect(r.stderr, name).toBe(line);
      expect(r.code, name).toBe(3);
    }
  });

  it('lets `import "catchup-projections"` load, and refuses a postgres:// store the same way', () => {
    const script = `
      const es = await import('catchup-projections');
      const error = await es.openStore('postgres://127.0.0.1:1/x').catch((e) => e);
      console.log(JSON.stringify({ store: typeof es.PostgresEventStore, code: error.code, message: error.message }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: app, encoding: 'utf8', timeout: 30_000, env: baseEnv() });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({
      store: 'function',
      code: 'ENVIRONMENT',
      message: 'postgres:// needs the pg package, which is not installed: npm install pg',
    });
  });
});
