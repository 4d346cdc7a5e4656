import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseStoreUrl } from '../../src/drivers/open-store.js';
import { thrown } from '../support/thrown.js';

const BASE = '/work/here';
const sqlite = (path: string) => ({ kind: 'sqlite', path });
const parse = (url: string) => parseStoreUrl(url, BASE);

function usageError(url: string): string {
  const error = thrown(() => parse(url));
  expect(error, url).toMatchObject({ code: 'USAGE' });
  return (error as Error).message;
}

describe('parseStoreUrl', () => {
  it('takes sqlite:<path> and bare paths, relative to the base', () => {
    expect(parse('sqlite:x.db')).toEqual(sqlite('/work/here/x.db'));
    expect(parse('sqlite:/abs/x.db')).toEqual(sqlite('/abs/x.db'));
    expect(parse('sqlite:///abs/x.db')).toEqual(sqlite('/abs/x.db'));
    expect(parse('x.db')).toEqual(sqlite('/work/here/x.db'));
    expect(parse('/abs/x.db')).toEqual(sqlite('/abs/x.db'));
    expect(parse('./name:with-colon.db')).toEqual(sqlite('/work/here/name:with-colon.db'));
    expect(parse('/abs/name:with-colon.db')).toEqual(sqlite('/abs/name:with-colon.db'));
  });

  it('reads the scheme in any case', () => {
    expect(parse('SQLite:x.db')).toEqual(sqlite('/work/here/x.db'));
    expect(parse('SQLITE:/abs/x.db')).toEqual(sqlite('/abs/x.db'));
    expect(parse('FILE:x.db')).toEqual(sqlite('/work/here/x.db'));
    expect(parse('PostgreSQL://h/db')).toEqual({ kind: 'postgres', url: 'PostgreSQL://h/db' });
    expect(parse('postgres://u@h:5432/db')).toEqual({ kind: 'postgres', url: 'postgres://u@h:5432/db' });
  });

  it('expands ~/ to the home folder, and refuses ~user', () => {
    expect(parse('sqlite:~/x.db')).toEqual(sqlite(join(homedir(), 'x.db')));
    expect(parse('~/es/x.db')).toEqual(sqlite(join(homedir(), 'es', 'x.db')));
    expect(parse('file:~/x.db')).toEqual(sqlite(join(homedir(), 'x.db')));
    expect(usageError('sqlite:~bob/x.db')).toContain('~/');
    // Only a leading ~ means home: one inside a path is an ordinary character.
    expect(parse('sqlite:a/~/x.db')).toEqual(sqlite('/work/here/a/~/x.db'));
  });

  it('takes SQLite file: URIs as the file they name, and refuses their parameters', () => {
    expect(parse('file:f.db')).toEqual(sqlite('/work/here/f.db'));
    expect(parse('file:/abs/f.db')).toEqual(sqlite('/abs/f.db'));
    expect(parse('file:///abs/f.db')).toEqual(sqlite('/abs/f.db'));
    expect(parse('file://localhost/abs/f.db')).toEqual(sqlite('/abs/f.db'));
    expect(parse('file:///abs/my%20events.db')).toEqual(sqlite('/abs/my events.db'));
    expect(usageError('file:f.db?mode=ro')).toContain('parameters');
    expect(usageError('file://elsewhere/f.db')).toContain('host');
    expect(usageError('file:bad%zz.db')).toContain('%');
  });

  it('refuses an in-memory store, which would vanish at exit', () => {
    for (const url of [':memory:', 'sqlite::memory:', 'SQLite::memory:', 'file::memory:']) {
      expect(usageError(url)).toContain('in-memory');
    }
  });

  it('refuses any other word: prefix with a hint for a file name with a colon, and empty or host-like sqlite forms', () => {
    for (const url of ['redis:x', 'events:2026.db', 'c:x.db']) expect(usageError(url)).toContain(`./${url}`);
    for (const url of ['mysql://h/db', 'http://x/y', 'postgres:db']) expect(usageError(url)).not.toContain('./');
    expect(usageError('sqlite:')).toContain('names no file');
    expect(usageError('file:')).toContain('names no file');
    expect(usageError('  ')).toContain('empty');
    expect(usageError('sqlite://x.db')).toContain('sqlite:///');
  });
});
