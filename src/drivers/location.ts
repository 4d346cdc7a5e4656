import { homedir } from 'node:os';
import { isAbsolute, resolve, win32 } from 'node:path';
import { usage } from '../core/errors.js';

export type StoreLocation = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

const MEMORY = 'an in-memory SQLite store vanishes when es exits: name a file (e.g. sqlite:.es/events.db)';
const SCHEME = /^([a-z][a-z0-9+.-]*):/i;

/** `~/x` is the home folder's x; `~user/x` is refused rather than made a folder literally named `~user`. */
function expandHome(path: string, url: string): string {
  if (path === '~' || path.startsWith('~/')) return homedir() + path.slice(1);
  if (path.startsWith('~')) throw usage(`"${url}": only ~/ (your home folder) is expanded; write the full path`);
  return path;
}

function filePath(path: string, url: string, base: string): string {
  if (path === '') throw usage(`"${url}" names no file`);
  if (path === ':memory:') throw usage(`"${url}": ${MEMORY}`);
  return resolve(base, expandHome(path, url));
}

/** SQLite's own URI form: `file:rel.db`, `file:/abs.db`, `file:///abs.db`, `file://localhost/abs.db`. */
function fileUri(url: string, base: string): string {
  let rest = url.slice('file:'.length);
  if (/[?#]/.test(rest)) throw usage(`"${url}": es takes no SQLite URI parameters; give the file only (file:<path>)`);
  if (rest.startsWith('//')) {
    const slash = rest.indexOf('/', 2);
    const host = rest.slice(2, slash === -1 ? undefined : slash);
    if (host !== '' && host.toLowerCase() !== 'localhost') throw usage(`"${url}": a file URI names no host other than localhost`);
    rest = slash === -1 ? '' : rest.slice(slash);
  }
  let path: string;
  try {
    path = decodeURIComponent(rest);
  } catch {
    throw usage(`"${url}": malformed %-escape in the file URI`);
  }
  return filePath(path, url, base);
}

/**
 * Where `--db`, ES_DB or "db" point: `sqlite:<path>`, `file:<path>` (SQLite's URI form), a bare path,
 * or `postgres://…`. Schemes are case-insensitive; relative paths are taken from `base`.
 */
export function parseStoreUrl(url: string, base = process.cwd()): StoreLocation {
  if (url.trim() === '') throw usage('the store location is empty (--db, ES_DB or "db" in es.config.json)');
  const scheme = SCHEME.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'postgres' || scheme === 'postgresql') {
    if (!/^[a-z]+:\/\//i.test(url)) throw usage(`"${url}": a PostgreSQL store is postgres://…`);
    return { kind: 'postgres', url };
  }
  if (scheme === 'sqlite') {
    const rest = url.slice('sqlite:'.length);
    // sqlite:///abs/path is an absolute path; sqlite://x would read as a host name, which SQLite has not.
    if (rest.startsWith('//') && !rest.startsWith('///')) {
      throw usage(`"${url}": write sqlite:<relative path> or sqlite:///<absolute path>`);
    }
    return { kind: 'sqlite', path: filePath(rest.replace(/^\/\/(?=\/)/, ''), url, base) };
  }
  if (scheme === 'file') return { kind: 'sqlite', path: fileUri(url, base) };
  if (url === ':memory:') throw usage(`"${url}": ${MEMORY}`);
  const windowsDrive = process.platform === 'win32' && win32.isAbsolute(url);
  if (scheme !== undefined && !windowsDrive && !isAbsolute(url)) {
    if (url.startsWith(`${scheme}://`)) throw usage(`"${url}": unsupported store (use sqlite:<path>, a file path or postgres://…)`);
    throw usage(
      `"${url}": unknown store scheme "${scheme}:" (use sqlite:<path>, a file path or postgres://…; ` + `for a file whose name has a colon, write ./${url})`,
    );
  }
  return { kind: 'sqlite', path: filePath(url, url, base) };
}
