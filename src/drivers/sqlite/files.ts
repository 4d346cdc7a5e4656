import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { EsError, environment } from '../../core/errors.js';
import { isBusyOrLocked } from './errors.js';

// File-system errors are named where the store is opened, so the CLI reports the cause in one line
// (exit 3) instead of guessing later from an errno or a SQLite code.

const CAUSES: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  ENOTDIR: 'not a folder',
  EEXIST: 'not a folder',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'name too long',
};

const causeOf = (error: NodeJS.ErrnoException): string => CAUSES[error.code ?? ''] ?? error.message;

/** Why the process cannot write `path` (a file or folder), or null when it can. */
function cannotWrite(path: string): string | null {
  try {
    accessSync(path, constants.W_OK);
    return null;
  } catch (error) {
    return causeOf(error as NodeJS.ErrnoException);
  }
}

/** The deepest part of `path` that exists: where a mkdir -p stopped. */
function deepestExisting(path: string): string {
  let at = path;
  while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
  return at;
}

/** Creates the folders of a new store. */
export function makeStoreFolder(path: string): void {
  const folder = dirname(path);
  try {
    mkdirSync(folder, { recursive: true, mode: 0o755 });
  } catch (error) {
    const err = error as NodeJS.ErrnoException;
    const stop = deepestExisting(folder);
    const why = statSync(stop, { throwIfNoEntry: false })?.isDirectory() === false ? 'is a file, not a folder' : causeOf(err);
    throw environment(`cannot create the folder ${folder} for the event store: ${stop}: ${why}`, error);
  }
}

/**
 * Creates a new store's folders and its empty file, readable by its owner only (0600, less when
 * the umask asks for less): events are often personal data. SQLite gives the -wal and -shm files
 * the database file's mode. A file another process created meanwhile is left as it is.
 */
export function createStoreFile(path: string): void {
  makeStoreFolder(path);
  try {
    closeSync(openSync(path, 'wx', 0o600));
  } catch (error) {
    const err = error as NodeJS.ErrnoException;
    if (err.code === 'EEXIST') return;
    const folderWhy = cannotWrite(dirname(path));
    if (folderWhy) throw environment(`cannot create the event store ${path}: the folder ${dirname(path)} is not writable (${folderWhy})`, error);
    throw environment(`cannot create the event store ${path}: ${causeOf(err)}`, error);
  }
}

/** Refuses what would fail later with a vaguer message: a folder as the store, a read-only store to add to. */
export function checkStoreFile(path: string, forWriting: boolean): void {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (stat?.isDirectory()) throw environment(`${path} is a folder, not an event store file`);
  if (stat && !stat.isFile()) throw environment(`${path} is not a regular file, so it cannot be an event store`);
  if (!forWriting) return;
  const why = cannotWrite(path);
  if (why) throw environment(`${path}: the store file is read-only (${why}); adding events needs write access to it`);
}

/** An error from opening the store, with its cause said plainly where the file system is to blame. */
export function openError(path: string, error: unknown): EsError {
  const code = String((error as { code?: unknown } | null)?.code ?? '');
  const message = (error as Error)?.message ?? String(error);
  if (isBusyOrLocked(error)) {
    return new EsError('LOCKED', `${path}: the event store is busy: another process kept it past the busy timeout; try again later`, {
      cause: error,
    });
  }
  if (code === 'SQLITE_NOTADB') return environment(`${path}: not an es event store (${message})`, error);
  if (code.startsWith('SQLITE_CORRUPT')) return environment(`${path}: the database file is damaged (${message})`, error);
  if (code.startsWith('SQLITE_CANTOPEN') && path.split('/').some((part) => Buffer.byteLength(part) > 255)) {
    return environment(`${path.slice(0, 120)}…: a file or folder name is too long (over 255 bytes)`, error);
  }
  if (code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_READONLY')) {
    const folder = dirname(path);
    const folderWhy = cannotWrite(folder);
    if (folderWhy && existsSync(path)) {
      return environment(
        `${path}: SQLite needs to create its -wal and -shm files beside the store, but the folder ${folder} is not writable (${folderWhy})`,
        error,
      );
    }
    if (folderWhy) return environment(`cannot create the event store ${path}: the folder ${folder} is not writable (${folderWhy})`, error);
    const fileWhy = cannotWrite(path);
    if (fileWhy && existsSync(path)) return environment(`${path}: the store file is read-only (${fileWhy})`, error);
  }
  if (code.startsWith('SQLITE_FULL')) return environment(`${path}: the disk is full (${message})`, error);
  return environment(`${path}: cannot open event store (${message})`, error);
}
