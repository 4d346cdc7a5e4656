import { isAbsolute, resolve } from 'node:path';
import { usage } from '../core/errors.js';
import { redact } from '../core/secrets.js';
import type { Target } from '../ports/target.js';

export type TargetKind = 'sqlite' | 'postgres' | 'mysql';

/** The kind a target URL names, or a usage error saying which forms there are. */
export function targetKind(url: string): TargetKind {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'sqlite') return 'sqlite';
  if (scheme === 'postgres' || scheme === 'postgresql') return 'postgres';
  if (scheme === 'mysql' || scheme === 'mariadb') return 'mysql';
  throw usage(`"${redact(url)}": expected sqlite:<path>, postgres://… or mysql://… (mariadb://…)`);
}

/** The URL as es prints it: the password as ***. */
export function displayTarget(url: string): string {
  return redact(url);
}

/**
 * Opens a projection's target and checks that it answers; an unreachable one is an ENVIRONMENT
 * error (exit 3) naming it. A relative SQLite path is taken from `base` (the working directory).
 */
export async function openTarget(url: string, base = process.cwd()): Promise<Target> {
  const kind = targetKind(url);
  const display = displayTarget(url);
  switch (kind) {
    case 'sqlite': {
      const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
      if (path === '' || path === ':memory:') throw usage(`target "${url}": name a file (sqlite:<path>)`);
      const { openSqliteTarget } = await import('./sqlite/target.js');
      return openSqliteTarget(isAbsolute(path) ? path : resolve(base, path), display) as Target;
    }
    case 'postgres': {
      const { openPostgresTarget } = await import('./postgres/target.js');
      return (await openPostgresTarget(url, display)) as Target;
    }
    case 'mysql': {
      const { openMysqlTarget } = await import('./mysql/target.js');
      return (await openMysqlTarget(url, display)) as Target;
    }
  }
}
