import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTempDirs, es, jsonLines, parseJson, tempDir, writeFile, writeRecorder } from './helpers.js';

afterAll(cleanupTempDirs);

const HOW_TO_CREATE = /es (append|import|demo)/;

describe('a missing store', () => {
  it('read, project run and project status exit 3, say how to create one, and create no file', () => {
    const dir = tempDir();
    writeRecorder(join(dir, 'projections'), 'counter');
    const before = readdirSync(dir).sort();

    for (const args of [
      ['read'],
      ['read', '--json'],
      ['project', 'run'],
      ['project', 'status'],
      ['project', 'status', '--json'],
      ['project', 'rebuild', '--all'],
      ['project', 'replay-from', 'counter', '1'],
      ['read', '--db', 'sub/dir/missing.db'],
      ['project', 'run', '--db', 'sqlite:sub/missing.db'],
      ['project', 'status', '--db', 'missing.db'],
    ]) {
      const r = es(dir, args);
      expect(r.code, args.join(' ')).toBe(3);
      expect(r.stderr, args.join(' ')).toMatch(HOW_TO_CREATE);
      expect(r.stdout.trim(), args.join(' ')).toBe('');
    }
    expect(readdirSync(dir).sort()).toEqual(before);
    expect(existsSync(join(dir, '.es'))).toBe(false);
    expect(existsSync(join(dir, 'sub'))).toBe(false);
  });

  it('project list needs no store and creates none', () => {
    const dir = tempDir();
    writeRecorder(join(dir, 'projections'), 'counter', { types: ['A', 'B'] });
    writeFile(
      dir,
      'projections/typed.ts',
      `
interface Ev { position: number }
export default { version: 3, handlers: { Typed(e: Ev, db: any) { void e; void db; } } };
`,
    );
    writeFile(dir, 'projections/package.json', '{"type":"module"}\n');
    writeFile(dir, 'projections/plainjs.js', 'export default { handlers: { "*"() {} } };\n');
    const r = es(dir, ['project', 'list', '--json', '--db', 'nothing-here.db']);
    expect(r.code).toBe(0);
    const out = parseJson(r.stdout);
    const byName = Object.fromEntries(out.projections.map((p: any) => [p.name, p]));
    expect(Object.keys(byName).sort()).toEqual(['counter', 'plainjs', 'typed']);
    expect(byName.counter).toMatchObject({ name: 'counter', version: 1, events: ['A', 'B'] });
    expect(byName.counter.file).toContain('counter.mjs');
    expect(byName.typed).toMatchObject({ version: 3, events: ['Typed'] });
    expect(byName.plainjs.version).toBe(1);
    expect(existsSync(join(dir, 'nothing-here.db'))).toBe(false);
    expect(existsSync(join(dir, '.es'))).toBe(false);

    const text = es(dir, ['project', 'list']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('counter');
    expect(text.stdout).toContain('typed');
  });

  it('a file that is not an es store is exit 3 and is left as it was', () => {
    const dir = tempDir();
    writeRecorder(join(dir, 'projections'), 'counter');
    const text = 'this is not a database\n'.repeat(200);
    writeFileSync(join(dir, 'notes.txt'), text);
    for (const args of [['read'], ['project', 'status'], ['project', 'run'], ['append', 's', 'T', '{}']]) {
      const r = es(dir, [...args, '--db', 'notes.txt']);
      expect(r.code, args.join(' ')).toBe(3);
      expect(r.stderr.length).toBeGreaterThan(0);
    }
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe(text);

    // a SQLite database of some other application
    const other = new Database(join(dir, 'other.db'));
    other.exec('CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)');
    other.close();
    for (const args of [['read'], ['project', 'status'], ['append', 's', 'T', '{}'], ['import', '-']]) {
      const r = es(dir, [...args, '--db', 'other.db'], { input: '{"streamId":"s","type":"T","data":{}}\n' });
      expect(r.code, args.join(' ')).toBe(3);
      expect(r.stderr).toMatch(/not an es event store|event store/i);
    }
    const check = new Database(join(dir, 'other.db'), { readonly: true });
    const tables = check.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all();
    check.close();
    expect(tables).toEqual(['customers']);
  });
});

describe('projection files', () => {
  function storeWithEvent(): string {
    const dir = tempDir();
    expect(es(dir, ['append', 's', 'A', '{}']).code).toBe(0);
    return dir;
  }

  it('a missing projections folder is exit 3', () => {
    const dir = storeWithEvent();
    for (const args of [
      ['project', 'list'],
      ['project', 'run'],
      ['project', 'status'],
      ['project', 'list', '--projections', 'nope'],
    ]) {
      const r = es(dir, args);
      expect(r.code, args.join(' ')).toBe(3);
      expect(r.stderr).toMatch(/projections/);
    }
  });

  it('a file with a syntax error or an invalid definition is exit 3 naming the file', () => {
    const dir = storeWithEvent();
    writeRecorder(join(dir, 'projections'), 'good');
    const broken: [string, string][] = [
      ['syntax.mjs', 'export default { handlers: { A(e, db) { ) } };\n'],
      ['nohandlers.mjs', 'export default { name: "nohandlers", version: 1 };\n'],
      ['badname.mjs', 'export default { name: "Bad Name!", handlers: { A() {} } };\n'],
      ['badversion.mjs', 'export default { version: "two", handlers: { A() {} } };\n'],
      ['notfn.mjs', 'export default { handlers: { A: 42 } };\n'],
      ['noexport.mjs', 'export const x = 1;\n'],
      ['throws.mjs', 'throw new Error("exploded while loading");\nexport default { handlers: { A() {} } };\n'],
      ['badts.ts', 'export default { handlers: { A(e: number, db: any) { const x = ; } } };\n'],
    ];
    for (const [file, source] of broken) {
      const path = writeFile(dir, `projections/${file}`, source);
      const commands =
        file === 'syntax.mjs'
          ? [
              ['project', 'list'],
              ['project', 'run'],
              ['project', 'status'],
            ]
          : [['project', 'run']];
      for (const args of commands) {
        const r = es(dir, args);
        expect(r.code, `${file}: ${args.join(' ')}`).toBe(3);
        expect(r.stderr, `${file}: ${args.join(' ')}`).toContain(file);
      }
      writeFileSync(path, '');
      // empty file: no default export, still invalid
      expect(es(dir, ['project', 'list']).code, `${file} emptied`).toBe(3);
      writeFileSync(path, 'export default { handlers: { A() {} } };\n');
    }
    // all fixed: the folder loads again and the good projection never ran
    const list = es(dir, ['project', 'list', '--json']);
    expect(list.code).toBe(0);
    expect(parseJson(list.stdout).projections.map((p: any) => p.name)).toContain('good');
    expect(jsonLines(es(dir, ['read', '--stream', '$checkpoint-good', '--json']).stdout)).toEqual([]);
  });

  it('two files with the same projection name are exit 3', () => {
    const dir = storeWithEvent();
    writeRecorder(join(dir, 'projections'), 'orders');
    writeFile(dir, 'projections/orders-copy.mjs', 'export default { name: "orders", handlers: { A() {} } };\n');
    for (const args of [
      ['project', 'list'],
      ['project', 'run'],
      ['project', 'status'],
    ]) {
      const r = es(dir, args);
      expect(r.code, args.join(' ')).toBe(3);
      expect(r.stderr).toContain('orders');
      expect(r.stderr).toMatch(/duplicate|twice|same name|already/i);
    }
  });

  it('an unknown projection name, command or option is exit 2', () => {
    const dir = storeWithEvent();
    writeRecorder(join(dir, 'projections'), 'known');
    for (const args of [
      ['project', 'run', 'unknown'],
      ['project', 'run', 'known', 'unknown'],
      ['project', 'status', 'unknown'],
      ['project', 'rebuild', 'unknown'],
      ['project', 'replay-from', 'unknown', '1'],
      ['frobnicate'],
      ['project', 'frobnicate'],
      ['read', '--frobnicate'],
      ['project', 'run', '--frobnicate'],
      ['project', 'run', '--batch-size', '0'],
      ['project', 'run', '--batch-size', 'lots'],
      ['project', 'run', '--batch-size', '100001'],
      ['project', 'status', '--max-lag', 'x'],
      ['project', 'replay-from', 'known', 'abc'],
    ]) {
      const r = es(dir, args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.length, args.join(' ')).toBeGreaterThan(0);
    }
    // nothing ran
    expect(jsonLines(es(dir, ['read', '--stream', '$checkpoint-known', '--json']).stdout)).toEqual([]);
  });
});

describe('where things are', () => {
  it('--db beats ES_DB beats es.config.json beats .es/events.db', () => {
    const dir = tempDir();
    // the default store, made before any configuration exists
    expect(es(dir, ['append', 'in-default', 'Made', '{}']).code).toBe(0);
    expect(existsSync(join(dir, '.es', 'events.db'))).toBe(true);
    expect(es(dir, ['append', 'in-config', 'Made', '{}', '--db', 'config.db']).code).toBe(0);
    expect(es(dir, ['append', 'in-env', 'Made', '{}', '--db', 'sqlite:env.db']).code).toBe(0);
    expect(es(dir, ['append', 'in-flag', 'Made', '{}', '--db', join(dir, 'flag.db')]).code).toBe(0);

    const streams = (args: string[], env: Record<string, string> = {}) => {
      const r = es(dir, ['read', '--json', ...args], { env });
      expect(r.code, `${args.join(' ')} ${JSON.stringify(env)}: ${r.stderr}`).toBe(0);
      return jsonLines(r.stdout).map((e) => e.streamId);
    };

    expect(streams([])).toEqual(['in-default']);
    writeFile(dir, 'es.config.json', JSON.stringify({ db: 'config.db' }));
    expect(streams([])).toEqual(['in-config']);
    expect(streams([], { ES_DB: 'env.db' })).toEqual(['in-env']);
    expect(streams([], { ES_DB: 'sqlite:env.db' })).toEqual(['in-env']);
    expect(streams(['--db', 'flag.db'], { ES_DB: 'env.db' })).toEqual(['in-flag']);
    expect(streams(['--db', 'sqlite:flag.db'])).toEqual(['in-flag']);

    // append goes to the same place
    expect(es(dir, ['append', 'second', 'Made', '{}'], { env: { ES_DB: 'env.db' } }).code).toBe(0);
    expect(streams(['--db', 'env.db'])).toEqual(['in-env', 'second']);
    expect(streams(['--db', '.es/events.db'])).toEqual(['in-default']);

    // --config names another configuration file
    writeFile(dir, 'other/settings.json', JSON.stringify({ db: join(dir, 'flag.db') }));
    expect(streams(['--config', 'other/settings.json'])).toEqual(['in-flag']);
  });

  it('--projections beats ES_PROJECTIONS beats es.config.json beats ./projections', () => {
    const dir = tempDir();
    writeRecorder(join(dir, 'projections'), 'from-default');
    writeRecorder(join(dir, 'cfg-projections'), 'from-config');
    writeRecorder(join(dir, 'env-projections'), 'from-env');
    writeRecorder(join(dir, 'flag-projections'), 'from-flag');
    const names = (args: string[], env: Record<string, string> = {}) => {
      const r = es(dir, ['project', 'list', '--json', ...args], { env });
      expect(r.code, r.stderr).toBe(0);
      return parseJson(r.stdout).projections.map((p: any) => p.name);
    };
    expect(names([])).toEqual(['from-default']);
    writeFile(dir, 'es.config.json', JSON.stringify({ projections: 'cfg-projections' }));
    expect(names([])).toEqual(['from-config']);
    expect(names([], { ES_PROJECTIONS: 'env-projections' })).toEqual(['from-env']);
    expect(names(['--projections', 'flag-projections'], { ES_PROJECTIONS: 'env-projections' })).toEqual(['from-flag']);

    // and project run uses the same folder
    expect(es(dir, ['append', 's', 'A', '{}']).code).toBe(0);
    expect(es(dir, ['project', 'run'], { env: { ES_PROJECTIONS: 'env-projections' } }).code).toBe(0);
    expect(jsonLines(es(dir, ['read', '--stream', '$checkpoint-from-env', '--json']).stdout).length).toBeGreaterThan(0);
    expect(jsonLines(es(dir, ['read', '--stream', '$checkpoint-from-config', '--json']).stdout)).toEqual([]);
  });

  it('an invalid configuration file is exit 3', () => {
    const dir = tempDir();
    expect(es(dir, ['append', 's', 'A', '{}']).code).toBe(0);
    writeRecorder(join(dir, 'projections'), 'p');
    for (const config of ['{ not json', '[1,2]', '{"db": 5}', '{"projections": ""}']) {
      writeFile(dir, 'es.config.json', config);
      for (const args of [['read'], ['project', 'list'], ['append', 's', 'B', '{}']]) {
        const r = es(dir, args);
        expect(r.code, `${config}: ${args.join(' ')}`).toBe(3);
        expect(r.stderr, config).toContain('es.config.json');
      }
    }
    writeFile(dir, 'broken.json', '{ nope');
    writeFile(dir, 'es.config.json', '{}');
    expect(es(dir, ['read', '--config', 'broken.json']).code).toBe(3);
    expect(es(dir, ['read']).code).toBe(0);
    // nothing was appended by the refused commands
    expect(jsonLines(es(dir, ['read', '--json']).stdout).map((e) => e.type)).toEqual(['A']);
  });
});
