import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_BATCH_SIZE, DEFAULT_DB, DEFAULT_PROJECTIONS, resolveSettings } from '../../src/cli/settings.js';
import { thrown } from '../support/thrown.js';

let root: string;
let counter = 0;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'es-settings-'));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

/** A fresh working directory, optionally with an es.config.json holding `config` (raw text when a string). */
function workdir(config?: unknown): string {
  counter += 1;
  const dir = join(root, `cwd-${counter}`);
  mkdirSync(dir);
  if (config !== undefined) {
    writeFileSync(join(dir, 'es.config.json'), typeof config === 'string' ? config : JSON.stringify(config));
  }
  return dir;
}

describe('resolveSettings: precedence', () => {
  it('flags win over the environment, the environment over es.config.json, and that over the defaults', () => {
    expect(resolveSettings({}, {}, workdir())).toMatchObject({
      db: DEFAULT_DB,
      projections: DEFAULT_PROJECTIONS,
      batchSize: DEFAULT_BATCH_SIZE,
    });
    expect(DEFAULT_DB).toBe('sqlite:.es/events.db');
    expect(DEFAULT_PROJECTIONS).toBe('./projections');

    const cwd = workdir({ db: 'sqlite:/abs/config.db', projections: '/abs/config-projections', batchSize: 50 });
    const env = { ES_DB: 'sqlite:/abs/env.db', ES_PROJECTIONS: '/abs/env-projections' };

    expect(resolveSettings({}, {}, cwd)).toMatchObject({
      db: 'sqlite:/abs/config.db',
      projections: '/abs/config-projections',
      batchSize: 50,
    });
    expect(resolveSettings({}, env, cwd)).toMatchObject({ db: 'sqlite:/abs/env.db', projections: '/abs/env-projections' });
    expect(resolveSettings({ db: 'sqlite:/abs/flag.db', projections: '/abs/flag-projections' }, env, cwd)).toMatchObject({
      db: 'sqlite:/abs/flag.db',
      projections: '/abs/flag-projections',
      batchSize: 50,
    });
    // Each setting is decided on its own.
    expect(resolveSettings({ db: 'sqlite:/abs/flag.db' }, { ES_PROJECTIONS: '/abs/env-p' }, cwd)).toMatchObject({
      db: 'sqlite:/abs/flag.db',
      projections: '/abs/env-p',
    });
    // An empty environment variable counts as unset.
    expect(resolveSettings({}, { ES_DB: '', ES_PROJECTIONS: '' }, cwd)).toMatchObject({ db: 'sqlite:/abs/config.db' });
  });

  it('reads the file named by --config (relative to the working directory) instead of es.config.json', () => {
    const cwd = workdir({ db: 'sqlite:/abs/default-config.db' });
    mkdirSync(join(cwd, 'conf'));
    writeFileSync(join(cwd, 'conf', 'ci.json'), JSON.stringify({ db: 'sqlite:/abs/ci.db', batchSize: 7 }));
    expect(resolveSettings({ config: 'conf/ci.json' }, {}, cwd)).toMatchObject({ db: 'sqlite:/abs/ci.db', batchSize: 7 });
    expect(resolveSettings({ config: 'conf/ci.json' }, { ES_DB: 'sqlite:/abs/env.db' }, cwd).db).toBe('sqlite:/abs/env.db');
  });
});

describe('resolveSettings: paths in a configuration file', () => {
  it('resolves relative paths from the file’s folder; absolute paths, URLs, flags and env stay as given', () => {
    const cwd = workdir();
    const folder = join(cwd, 'deploy', 'conf');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'es.json'), JSON.stringify({ db: 'sqlite:data/events.db', projections: '../projections' }));
    expect(resolveSettings({ config: 'deploy/conf/es.json' }, {}, cwd)).toMatchObject({
      db: `sqlite:${join(folder, 'data', 'events.db')}`,
      projections: join(cwd, 'deploy', 'projections'),
    });

    writeFileSync(join(folder, 'bare.json'), JSON.stringify({ db: './events.db' }));
    expect(resolveSettings({ config: 'deploy/conf/bare.json' }, {}, cwd).db).toBe(join(folder, 'events.db'));

    const urls = workdir({ db: 'postgres://user@localhost:5432/es', projections: '/srv/projections' });
    expect(resolveSettings({}, {}, urls)).toMatchObject({ db: 'postgres://user@localhost:5432/es', projections: '/srv/projections' });
    const other = workdir({ db: 'sqlite:/var/lib/es/events.db' });
    expect(resolveSettings({}, {}, other).db).toBe('sqlite:/var/lib/es/events.db');

    // Flags and environment values are not rebased.
    expect(resolveSettings({ db: 'sqlite:rel.db' }, { ES_PROJECTIONS: 'rel-projections' }, workdir())).toMatchObject({
      db: 'sqlite:rel.db',
      projections: 'rel-projections',
    });
  });
});

describe('resolveSettings: invalid configuration files (ENVIRONMENT)', () => {
  it('refuses a missing --config file (not a missing es.config.json), invalid JSON and non-objects', () => {
    const cwd = workdir();
    const error = thrown(() => resolveSettings({ config: 'nope.json' }, {}, cwd));
    expect(error).toMatchObject({ code: 'ENVIRONMENT' });
    expect((error as Error).message).toContain('nope.json');
    expect(resolveSettings({}, {}, cwd).db).toBe(DEFAULT_DB);

    for (const text of ['{ "db": ', '[]', '"sqlite:x.db"', 'null', '42']) {
      const invalid = thrown(() => resolveSettings({}, {}, workdir(text)));
      expect(invalid, text).toMatchObject({ code: 'ENVIRONMENT' });
      expect((invalid as Error).message, text).toContain('es.config.json');
    }
  });

  it('refuses an unknown key or a value of the wrong type, naming the key', () => {
    const error = thrown(() => resolveSettings({}, {}, workdir({ db: 'sqlite:/a.db', dbUrl: 'x' })));
    expect(error).toMatchObject({ code: 'ENVIRONMENT' });
    expect((error as Error).message).toContain('dbUrl');

    const cases: [Record<string, unknown>, string][] = [
      [{ db: 5 }, 'db'],
      [{ db: '' }, 'db'],
      [{ projections: ['a'] }, 'projections'],
      [{ batchSize: 0 }, 'batchSize'],
      [{ batchSize: 2.5 }, 'batchSize'],
      [{ batchSize: '100' }, 'batchSize'],
    ];
    for (const [config, key] of cases) {
      const wrong = thrown(() => resolveSettings({}, {}, workdir(config)));
      expect(wrong, JSON.stringify(config)).toMatchObject({ code: 'ENVIRONMENT' });
      expect((wrong as Error).message).toContain(key);
    }
  });

  it('refuses keys that happen to be names on Object.prototype', () => {
    const texts = ['{"toString": "x"}', '{"constructor": "x"}', '{"__proto__": "x"}', '{"hasOwnProperty": 1}'];
    const outcome = texts.map((text) => {
      const error = thrown(() => resolveSettings({}, {}, workdir(text))) as { code?: string; message: string };
      return [text, error.code ?? `no code: ${error.message}`];
    });
    expect(outcome).toEqual(texts.map((text) => [text, 'ENVIRONMENT']));
  });
});

describe('resolveSettings: projectionOptions.<name>.target', () => {
  it('takes a target per projection; a relative SQLite one is taken from the file’s folder; URLs stay as given', () => {
    const dir = workdir({
      projectionOptions: { a: { target: 'sqlite:read/a.db' }, b: { target: 'postgres://u:p@h/db?schema=s' }, c: { target: 'mysql://root@h/db' } },
    });
    const { projectionOptions } = resolveSettings({}, {}, dir);
    expect(projectionOptions.a?.target).toBe(`sqlite:${join(dir, 'read/a.db')}`);
    expect(projectionOptions.b?.target).toBe('postgres://u:p@h/db?schema=s');
    expect(projectionOptions.c?.target).toBe('mysql://root@h/db');
  });

  it('refuses an empty target, and a target at the top level (it belongs to one projection)', () => {
    const empty = thrown(() => resolveSettings({}, {}, workdir({ projectionOptions: { a: { target: '' } } })));
    expect(empty).toMatchObject({ code: 'ENVIRONMENT' });
    expect(String((empty as Error).message)).toContain('"projectionOptions.a.target" must be a non-empty string');
    const top = thrown(() => resolveSettings({}, {}, workdir({ target: 'sqlite:x.db' })));
    expect(String((top as Error).message)).toContain('unknown key "target"');
  });
});
