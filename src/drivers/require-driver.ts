import { EsError } from '../core/errors.js';

/**
 * The database and broker clients (pg, mysql2, amqplib, the NATS client) are optional peer
 * dependencies: a project that uses SQLite installs none of them. Each is imported here, on first
 * use, and a missing one is an environment error saying what to install.
 */

/** The package a module specifier names: `mysql2/promise` → `mysql2`; `@nats-io/jetstream` stays whole. */
export function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return parts.slice(0, specifier.startsWith('@') ? 2 : 1).join('/');
}

/**
 * True when `error` says that the package of `specifier` itself is not installed: not a file missing
 * inside it, nor another package it needs (those are a broken install, reported as they are).
 */
export function isMissingPackage(error: unknown, specifier: string): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  if (e?.code !== 'ERR_MODULE_NOT_FOUND' && e?.code !== 'MODULE_NOT_FOUND') return false;
  // ES modules: "Cannot find package 'mysql2' imported from …"; CommonJS: "Cannot find module 'mysql2/promise'".
  const named = /^Cannot find (?:package|module) '([^']+)'/.exec(typeof e.message === 'string' ? e.message : '')?.[1];
  return named === specifier || named === packageOf(specifier);
}

/**
 * Imports `specifier` (a driver package, or a path inside one); `forWhat` is what needs it, as the
 * user wrote it (`postgres://`). `install` lists the packages to suggest when it is missing.
 * Returns the module's default export when it has one (CommonJS packages), else its namespace.
 */
export async function loadDriver<T>(specifier: string, forWhat: string, install: readonly string[] = [packageOf(specifier)]): Promise<T> {
  let loaded: { default?: unknown };
  try {
    loaded = (await import(/* @vite-ignore */ specifier)) as { default?: unknown };
  } catch (error) {
    if (!isMissingPackage(error, specifier)) throw error;
    const pkg = packageOf(specifier);
    throw new EsError('ENVIRONMENT', `${forWhat} needs the ${pkg} package, which is not installed: npm install ${install.join(' ')}`, { cause: error });
  }
  return (loaded.default ?? loaded) as T;
}
