import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTempDirs, es, tempDir, writeFile } from './helpers.js';

afterAll(cleanupTempDirs);

describe('--db values', () => {
  it('mean the file a user expects, or are refused with one line and nothing created', () => {
    const dir = tempDir('es-db-url-');
    const home = join(dir, 'home');
    const ok = (db: string) => {
      const r = es(dir, ['--db', db, 'append', 's', 'A'], { env: { HOME: home } });
      expect({ db, code: r.code, stderr: r.stderr }).toEqual({ db, code: 0, stderr: '' });
    };
    ok('SQLite:upper.db');
    ok('file:uri.db');
    ok(`file://${join(dir, 'abs uri.db').replace(/ /g, '%20')}`);
    ok('sqlite:~/home.db');
    ok('./name:colon.db');
    expect(
      readdirSync(dir)
        .filter((f) => f.endsWith('.db'))
        .sort(),
    ).toEqual(['abs uri.db', 'name:colon.db', 'upper.db', 'uri.db']);
    expect(existsSync(join(home, 'home.db'))).toBe(true);

    for (const [db, says] of <[string, string][]>[
      ['sqlite::memory:', 'in-memory'],
      [':memory:', 'in-memory'],
      ['events:2026.db', './events:2026.db'],
      ['file:uri.db?mode=ro', 'parameters'],
    ]) {
      const r = es(dir, ['--db', db, 'append', 's', 'A']);
      expect({ db, code: r.code }).toEqual({ db, code: 2 });
      expect(r.stderr).toMatch(/^es: [^\n]*\n$/);
      expect(r.stderr).toContain(says);
    }
    expect(readdirSync(dir).filter((f) => f.includes(':') && f !== 'name:colon.db')).toEqual([]);

    // In es.config.json the same mistake is an invalid configuration (exit 3), named as such.
    writeFile(dir, 'es.config.json', JSON.stringify({ db: 'sqlite::memory:' }));
    const fromConfig = es(dir, ['append', 's', 'A']);
    expect(fromConfig.code).toBe(3);
    expect(fromConfig.stderr).toContain('es.config.json');
    expect(fromConfig.stderr).toContain('in-memory');
  });
});
