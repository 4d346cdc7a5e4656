/**
 * `es import` as a stream: invalid UTF-8, gzip, CSV headers, control characters, and memory that
 * does not grow with the input.
 */
import { createWriteStream, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTempDirs, es, readAll, tempDir, writeFile } from './helpers.js';

afterAll(cleanupTempDirs);

const CSV_FLAGS = ['--stream-column', 'case', '--type-column', 'activity'];
const line = (n: number, extra: object = {}) => JSON.stringify({ id: `e-${n}`, streamId: `s-${n % 13}`, type: 'T', data: { n }, ...extra });

/** A store holding one event, and what reading it gives: an import that fails must leave exactly that. */
function seeded(): { dir: string; before: ReturnType<typeof readAll> } {
  const dir = tempDir();
  expect(es(dir, ['append', 'seed', 'Seeded', '{}']).code).toBe(0);
  return { dir, before: readAll(dir) };
}

/** One `es: …` line on stderr, exit 2. */
function refused(r: ReturnType<typeof es>, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toMatch(/^es: [^\n]*\n$/);
  expect(r.stderr).toMatch(pattern);
}

describe('es import refuses invalid UTF-8', () => {
  it('in a CSV file, an NDJSON file, standard input and gzip input: exit 2, its line, nothing stored', () => {
    const { dir, before } = seeded();
    writeFileSync(join(dir, 'l.csv'), Buffer.from('case,activity,city\nc1,Start,Paris\nc1,End,Caf\xe9\n', 'latin1'));
    refused(es(dir, ['import', 'l.csv', ...CSV_FLAGS]), /line 3: not valid UTF-8/);

    const ndjson = Buffer.concat([Buffer.from(`${line(1)}\n${line(2)}\n`), Buffer.from('{"streamId":"s","type":"Caf\xe9"}\n', 'latin1')]);
    writeFileSync(join(dir, 'l.ndjson'), ndjson);
    refused(es(dir, ['import', 'l.ndjson']), /line 3: not valid UTF-8/);
    refused(es(dir, ['import', '-'], { input: ndjson }), /line 3: not valid UTF-8/);
    refused(es(dir, ['import', '-'], { input: gzipSync(ndjson) }), /line 3: not valid UTF-8/);
    expect(readAll(dir)).toEqual(before);

    // The issue's case on a missing store: refused before a store is created.
    const fresh = tempDir();
    writeFileSync(join(fresh, 'l.csv'), Buffer.from('case,activity,city\nc1,Start,Caf\xe9\n', 'latin1'));
    refused(es(fresh, ['import', 'l.csv', ...CSV_FLAGS]), /line 2: not valid UTF-8/);
    expect(existsSync(join(fresh, '.es/events.db'))).toBe(false);
  });

  it('far into a file, after thousands of events were appended inside the transaction: all rolled back', () => {
    const { dir, before } = seeded();
    const good = Array.from({ length: 8000 }, (_, i) => line(i)).join('\n');
    writeFileSync(join(dir, 'late.ndjson'), Buffer.concat([Buffer.from(`${good}\n`), Buffer.from([0x7b, 0xff, 0x7d, 0x0a])]));
    refused(es(dir, ['import', 'late.ndjson']), /line 8001: not valid UTF-8/);

    // a changed event far into a re-import, across many batches: nothing of that file either
    writeFile(dir, 'ok.ndjson', `${good}\n`);
    expect(es(dir, ['import', 'ok.ndjson']).code).toBe(0);
    const imported = readAll(dir);
    expect(imported).toHaveLength(before.length + 8000);
    const changed = Array.from({ length: 8000 }, (_, i) => (i === 7499 ? line(i, { data: { n: -1 } }) : line(i)));
    writeFile(dir, 'changed.ndjson', `${[...changed, line(8000)].join('\n')}\n`);
    refused(es(dir, ['import', 'changed.ndjson']), /line 7500: event id "e-7499" is stored already with different content/);
    const again = es(dir, ['import', 'ok.ndjson', '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ appended: 0, skipped: 8000 });
    expect(readAll(dir)).toEqual(imported);
  });
});

describe('es import reads gzip by its magic bytes', () => {
  it('from a .csv.gz, an .ndjson.gz and standard input; a damaged one is exit 2', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a.csv.gz'), gzipSync('case,activity,city\nc1,Start,Café\nc2,Start,Zürich\n'));
    expect(es(dir, ['import', 'a.csv.gz', ...CSV_FLAGS]).code).toBe(0);
    writeFileSync(join(dir, 'b.ndjson.gz'), gzipSync(`${line(1)}\n`));
    expect(es(dir, ['import', 'b.ndjson.gz']).code).toBe(0);
    expect(es(dir, ['import', '-'], { input: gzipSync(`${line(2)}\n`) }).code).toBe(0);
    expect(readAll(dir).map((e) => [e.streamId, e.type, e.data])).toEqual([
      ['c1', 'Start', { city: 'Café' }],
      ['c2', 'Start', { city: 'Zürich' }],
      ['s-1', 'T', { n: 1 }],
      ['s-2', 'T', { n: 2 }],
    ]);
    const before = readAll(dir);
    const big = gzipSync(Array.from({ length: 5000 }, (_, i) => line(100 + i)).join('\n'));
    writeFileSync(join(dir, 'cut.ndjson.gz'), big.subarray(0, big.length - 100));
    refused(es(dir, ['import', 'cut.ndjson.gz']), /gzip/);
    expect(readAll(dir)).toEqual(before);
  });
});

describe('es import: CSV headers', () => {
  it('refuses a missing column even with no rows, an empty file, and a column named twice', () => {
    const dir = tempDir();
    writeFile(dir, 'header.csv', 'case,activity\n');
    refused(es(dir, ['import', 'header.csv', '--stream-column', 'case', '--type-column', 'activty']), /no column "activty"/);
    writeFile(dir, 'empty.csv', '');
    refused(es(dir, ['import', 'empty.csv', ...CSV_FLAGS]), /header/);
    writeFile(dir, 'dup.csv', 'case,activity,amount,amount\nc1,A,1,2\n');
    refused(es(dir, ['import', 'dup.csv', ...CSV_FLAGS]), /"amount" twice/);
    expect(existsSync(join(dir, '.es/events.db'))).toBe(false);
    // the right header and no rows is a valid, empty import
    const ok = es(dir, ['import', 'header.csv', ...CSV_FLAGS]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/imported 0 events/);
  });
});

describe('control characters in stream ids and types', () => {
  it('are refused by append and import with the character escaped, never printed raw', () => {
    const { dir, before } = seeded();
    const cases: [string[], RegExp][] = [
      [['append', 'order\x1b[2J', 'Placed'], /stream id "order\\x1b\[2J" contains a control character \(\\x1b\)/],
      [['append', 'order-1', 'Placed\x07'], /event type "Placed\\x07" contains a control character \(\\x07\)/],
      [['append', 'order-1', 'Pla\x7fced'], /\\x7f/],
      [['append', 'order\u0085x', 'Placed'], /\\x85/],
      [['append', 'order\tx', 'Placed'], /\\x09/],
    ];
    for (const [args, pattern] of cases) {
      const r = es(dir, args);
      refused(r, pattern);
      // eslint-disable-next-line no-control-regex
      expect(r.stderr).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
    }
    writeFile(dir, 'c.ndjson', `${line(1)}\n${JSON.stringify({ streamId: 'bell\u0007', type: 'T' })}\n`);
    refused(es(dir, ['import', 'c.ndjson']), /line 2: the stream id "bell\\x07"/);
    writeFile(dir, 'c.csv', 'case,activity\nc1,A\nc2,B\u009b31m\n');
    refused(es(dir, ['import', 'c.csv', ...CSV_FLAGS]), /line 3: the event type "B\\x9b31m"/);
    expect(readAll(dir)).toEqual(before);
    // printable Unicode is fine
    expect(es(dir, ['append', 'commande-é', 'Créée']).code).toBe(0);
    // a refused append creates no store
    const fresh = tempDir();
    refused(es(fresh, ['append', 'a\x1b', 'T']), /\\x1b/);
    expect(existsSync(join(fresh, '.es/events.db'))).toBe(false);
  });

  it('lone surrogates (\\ud800 escapes) in stream ids, types and ids are refused; in data they round-trip', () => {
    const { dir, before } = seeded();
    // Written as JSON escapes: a lone surrogate has no UTF-8 form, so it can only come this way.
    writeFile(dir, 's.ndjson', `${line(1)}\n{"streamId":"s\\ud800x","type":"T"}\n`);
    refused(es(dir, ['import', 's.ndjson']), /line 2: the stream id "s\uFFFDx" contains a lone surrogate/);
    writeFile(dir, 't.ndjson', '{"streamId":"s","type":"T\\udfff"}\n');
    refused(es(dir, ['import', 't.ndjson']), /line 1: the event type .* lone surrogate/);
    // Two such ids would both print as "id\uFFFD": a re-import elsewhere would drop one in silence.
    writeFile(dir, 'i.ndjson', '{"streamId":"s","type":"T","id":"id\\ud800"}\n{"streamId":"s","type":"T","id":"id\\udc00"}\n');
    refused(es(dir, ['import', 'i.ndjson']), /line 1: the event id .* lone surrogate/);
    expect(readAll(dir)).toEqual(before);
    writeFile(dir, 'd.ndjson', '{"streamId":"s-d","type":"T","data":{"k":"x\\ud800y"}}\n');
    expect(es(dir, ['import', 'd.ndjson']).code).toBe(0);
    const stored = readAll(dir).find((e) => e.streamId === 's-d');
    expect(stored?.data).toEqual({ k: 'x\ud800y' });
  });
});

describe('es import streams its input', () => {
  it('imports a file far larger than a 48 MB heap', async () => {
    const dir = tempDir();
    const path = join(dir, 'big.ndjson');
    const out = createWriteStream(path);
    const note = 'x'.repeat(300);
    for (let i = 0; i < 150_000; i++) {
      if (!out.write(`${JSON.stringify({ streamId: `s-${i % 997}`, type: 'T', data: { i, note } })}\n`)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
    const r = es(dir, ['import', 'big.ndjson', '--json'], { env: { NODE_OPTIONS: '--max-old-space-size=48' }, timeoutMs: 120_000 });
    expect(r.code, r.stderr.slice(0, 500)).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ appended: 150_000, skipped: 0 });
  }, 150_000);
});
