import { spawnSync } from 'node:child_process';
import { copyFileSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendMany, baseEnv, cleanupTempDirs, es, ES_BIN, tempDir, writeFile, writeRecorder } from './helpers.js';

afterAll(cleanupTempDirs);

let dir: string;

/** Everything in the store, system streams included: what "the store is unchanged" compares. */
function snapshot(cwd: string): string {
  const r = es(cwd, ['read', '--json', '--include-system'], { stdoutToFile: true });
  expect(r.code).toBe(0);
  return r.stdout;
}

beforeAll(() => {
  dir = tempDir('es-bad-');
  writeRecorder(join(dir, 'projections'), 'rec');
  appendMany(dir, 'orders-1', 'OrderPlaced', 10);
  expect(es(dir, ['project', 'run']).code).toBe(0);
  writeFile(dir, 'broken.ndjson', '{"streamId":"a","type":"T","data":{}}\n{"streamId":"b","type":"T","data":{}}\n{"streamId": oops\n');
  writeFile(dir, 'no-stream.ndjson', '{"type":"T","data":{}}\n');
  writeFile(dir, 'no-type.ndjson', '{"streamId":"a","data":{}}\n');
  writeFile(dir, 'system.ndjson', '{"streamId":"a","type":"T"}\n{"streamId":"$checkpoint-rec","type":"Checkpoint","data":{"position":0}}\n');
  writeFile(dir, 'array-data.ndjson', '{"streamId":"a","type":"T","data":[1,2]}\n');
  writeFile(dir, 'bad.csv', 'case,activity,note\nc1,Start,ok\nc2,"Unclosed,x\n');
  writeFile(dir, 'empty-stream.csv', 'case,activity\nc1,Start\n,Stop\n');
});

const cases: { name: string; args: string[]; code: number; message: RegExp }[] = [
  { name: 'NDJSON with a broken line', args: ['import', 'broken.ndjson'], code: 2, message: /line 3: invalid JSON/ },
  { name: 'an event without a stream', args: ['import', 'no-stream.ndjson'], code: 2, message: /line 1: the stream id/ },
  { name: 'an event without a type', args: ['import', 'no-type.ndjson'], code: 2, message: /line 1: the event type/ },
  { name: 'a write to a $ stream in a file', args: ['import', 'system.ndjson'], code: 2, message: /line 2: .*\$ belong to the engine/ },
  { name: 'data that is not an object', args: ['import', 'array-data.ndjson'], code: 2, message: /line 1: "data" must be a JSON object/ },
  {
    name: 'a CSV row that does not parse',
    args: ['import', 'bad.csv', '--stream-column', 'case', '--type-column', 'activity'],
    code: 2,
    message: /line \d+: invalid CSV/,
  },
  {
    name: 'a CSV row without a stream',
    args: ['import', 'empty-stream.csv', '--stream-column', 'case', '--type-column', 'activity'],
    code: 2,
    message: /line 3: the stream id/,
  },
  {
    name: 'a CSV without the named column',
    args: ['import', 'empty-stream.csv', '--stream-column', 'nope', '--type-column', 'activity'],
    code: 2,
    message: /no column "nope"/,
  },
  { name: 'a file that cannot be read', args: ['import', 'missing.ndjson'], code: 2, message: /cannot read missing.ndjson/ },
  { name: 'append to a $ stream', args: ['append', '$checkpoint-rec', 'Checkpoint', '{"position":0}'], code: 2, message: /belong to the engine/ },
  { name: 'append data that is not JSON', args: ['append', 'a', 'T', '{nope'], code: 2, message: /not valid JSON/ },
  { name: 'append data that is an array', args: ['append', 'a', 'T', '[1]'], code: 2, message: /must be a JSON object/ },
  { name: 'append a non-numeric expected version', args: ['append', 'a', 'T', '--expected-version', 'two'], code: 2, message: /is not a version/ },
  {
    name: 'append an expected version past any stream',
    args: ['append', 'a', 'T', '--expected-version', '99999999999999999999'],
    code: 2,
    message: /past the largest stream version/,
  },
  {
    name: 'append with a stale expected version',
    args: ['append', 'orders-1', 'T', '--expected-version', '3'],
    code: 4,
    message: /conflict.*version 10, expected version 3/,
  },
  { name: 'a negative --from', args: ['read', '--from=-1'], code: 2, message: /not a whole number/ },
  { name: 'a non-numeric --limit', args: ['read', '--limit', 'ten'], code: 2, message: /not a whole number/ },
  { name: 'a zero batch size', args: ['project', 'run', '--batch-size', '0'], code: 2, message: /at least 1/ },
  { name: 'an unknown duration', args: ['project', 'status', '--max-age', '5 minutes'], code: 2, message: /not a duration/ },
  {
    name: 'a duration too long for a date',
    args: ['project', 'prune-handled', '--older-than', '99999999999d'],
    code: 2,
    message: /--older-than: "99999999999d" is too long/,
  },
  { name: 'a duration with a leading space', args: ['project', 'status', '--max-age', ' 5m'], code: 2, message: /--max-age: " 5m" is not a duration/ },
  { name: 'an unknown --wait duration', args: ['project', 'run', '--wait', 'forever'], code: 2, message: /not a duration/ },
  { name: 'a non-numeric replay position', args: ['project', 'replay-from', 'rec', 'start'], code: 2, message: /not a whole number/ },
  { name: 'a replay position past the head', args: ['project', 'replay-from', 'rec', '999999'], code: 2, message: /past the head/ },
  { name: 'an unknown projection', args: ['project', 'run', 'nope'], code: 2, message: /unknown projection: nope/ },
  { name: 'an unknown option', args: ['project', 'run', '--fast'], code: 2, message: /unknown option/ },
  { name: 'an unknown --on-error mode', args: ['project', 'run', '--on-error', 'ignore'], code: 2, message: /ignore/ },
];

describe('bad input: one clear line, the documented exit code, an unchanged store', () => {
  for (const c of cases) {
    it(c.name, () => {
      const before = snapshot(dir);
      const r = es(dir, c.args);
      expect(r.code).toBe(c.code);
      expect(r.stderr).toMatch(c.message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(snapshot(dir)).toBe(before);
    });
  }

  it('--verbose adds the stack trace', () => {
    const r = es(dir, ['append', 'a', 'T', '[1]', '--verbose']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\n\s+at /);
  });

  it('projection files that are invalid, duplicated or do not load exit 3 naming the file', () => {
    const cases = [
      { file: 'Bad.mjs', text: "export default { name: 'Bad Name', handlers: { T() {} } };", message: /Bad\.mjs: invalid projection: name "Bad Name"/ },
      { file: 'twin.mjs', text: "export default { name: 'rec', handlers: { T() {} } };", message: /duplicate projection name "rec"/ },
      { file: 'syntax.mjs', text: 'export default { handlers: { T() { ', message: /syntax\.mjs:\d+:\d+: cannot load projection: SyntaxError/ },
      { file: 'nohandlers.mjs', text: 'export default { name: "x" };', message: /nohandlers\.mjs: invalid projection: handlers/ },
    ];
    for (const c of cases) {
      const work = tempDir('es-badproj-');
      writeRecorder(join(work, 'projections'), 'rec');
      writeFile(join(work, 'projections'), c.file, c.text);
      const r = es(work, ['project', 'list']);
      expect(r.code, c.file).toBe(3);
      expect(r.stderr).toMatch(c.message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('truncated and foreign database files exit 3 and are left as they were', () => {
    const truncated = join(dir, 'truncated.db');
    copyFileSync(join(dir, '.es', 'events.db'), truncated);
    truncateSync(truncated, 3000);
    const foreign = join(dir, 'foreign.db');
    const db = new Database(foreign);
    db.exec('CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)');
    db.close();
    const text = join(dir, 'notes.db');
    writeFileSync(text, 'these are my notes, not a database\n');
    for (const file of [truncated, foreign, text]) {
      for (const args of [['read'], ['project', 'run'], ['append', 'a', 'T']]) {
        const r = es(dir, [...args, '--db', file]);
        expect(r.code, `${args.join(' ')} --db ${file}`).toBe(3);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
      }
    }
    const check = new Database(foreign, { readonly: true });
    expect(check.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all()).toEqual(['customers']);
    check.close();
  });
});

describe('bytes that are not UTF-8 in arguments, ES_DB and es.config.json', () => {
  // Node would read them as U+FFFD in silence; a shell passes the raw bytes.
  const sh = (dir: string, command: string, env: Record<string, string> = {}) =>
    spawnSync('sh', ['-c', command], { cwd: dir, env: { ...baseEnv(), ...env }, encoding: 'utf8' });

  it('are refused with exit 2 (exit 3 in the configuration file), and nothing is stored or created', () => {
    const dir = tempDir();
    const es = `"${process.execPath}" "${ES_BIN}"`;
    expect(sh(dir, `${es} --db ok.db append s T '{"a":1}'`).status).toBe(0);
    const data = sh(dir, `${es} --db ok.db append s T "{\\"a\\":\\"$(printf 'x\\377')\\"}"`);
    expect(data.status).toBe(2);
    expect(data.stderr).toMatch(/^es: argument 6 is not valid UTF-8 text/);
    expect(sh(dir, `${es} --db ok.db read --json`).stdout.trim().split('\n')).toHaveLength(1);
    expect(sh(dir, `${es} --db "$(printf 'caf\\351').db" append s T`).status).toBe(2);
    expect(sh(dir, `ES_DB="$(printf 'caf\\351').db" ${es} append s T`).status).toBe(2);
    writeFileSync(join(dir, 'es.config.json'), Buffer.from('{"db":"caf\xe9.db"}', 'latin1'));
    const config = sh(dir, `${es} append s T`);
    expect(config.status).toBe(3);
    expect(config.stderr).toMatch(/not valid UTF-8/);
    expect(readdirSync(dir).filter((f) => f.startsWith('caf'))).toEqual([]);
  });
});
