import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTempDirs, es, jsonLines, readAll, tempDir, writeFile } from './helpers.js';

afterAll(cleanupTempDirs);

// The real log ships with the repository (examples/README.md says where it comes from), gzipped:
// the command is the README's, which takes the format from the name and reads gzip by its magic bytes.
const RECEIPT = fileURLToPath(new URL('../../examples/receipt.csv.gz', import.meta.url));
const RECEIPT_IMPORT = ['import', RECEIPT, '--stream-column', 'case:concept:name', '--type-column', 'concept:name'];
const ndjson = (events: object[]): string => `${events.map((e) => JSON.stringify(e)).join('\n')}\n`;

describe('es import (NDJSON)', () => {
  it('imports a file in order, and importing it again adds nothing', () => {
    const dir = tempDir();
    const events = [
      { id: 'e1', streamId: 'cart-1', type: 'CartCreated', data: { customer: 'c1' } },
      { id: 'e2', streamId: 'cart-1', type: 'ItemAdded', data: { sku: 'KB', qty: 2 }, metadata: { source: 'test' } },
      { id: 'e3', streamId: 'cart-2', type: 'CartCreated', data: { customer: 'c2' } },
      { id: 'e4', streamId: 'cart-1', type: 'CheckedOut', data: {} },
    ];
    // blank lines are fine
    writeFile(dir, 'events.ndjson', ndjson(events).replace('\n', '\n\n'));
    const first = es(dir, ['import', 'events.ndjson']);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/4/);

    const stored = readAll(dir);
    expect(stored.map((e) => [e.id, e.streamId, e.version, e.type])).toEqual([
      ['e1', 'cart-1', 1, 'CartCreated'],
      ['e2', 'cart-1', 2, 'ItemAdded'],
      ['e3', 'cart-2', 1, 'CartCreated'],
      ['e4', 'cart-1', 3, 'CheckedOut'],
    ]);
    expect(stored[1]?.data).toEqual({ sku: 'KB', qty: 2 });
    expect(stored[1]?.metadata).toEqual({ source: 'test' });

    // same file again, and same events with keys in another order: nothing new
    const again = es(dir, ['import', 'events.ndjson', '--format', 'ndjson']);
    expect(again.code).toBe(0);
    const reordered = events.map(({ data, type, streamId, id, ...rest }) => ({ data, type, streamId, id, ...rest }));
    writeFile(dir, 'reordered.ndjson', ndjson(reordered));
    expect(es(dir, ['import', 'reordered.ndjson']).code).toBe(0);
    const afterAgain = readAll(dir);
    expect(afterAgain).toEqual(stored);

    // a file mixing stored events with a new one adds only the new one
    writeFile(dir, 'more.ndjson', ndjson([...events, { id: 'e5', streamId: 'cart-2', type: 'ItemAdded', data: {} }]));
    expect(es(dir, ['import', 'more.ndjson']).code).toBe(0);
    const afterMore = readAll(dir);
    expect(afterMore).toHaveLength(5);
    expect(afterMore[4]).toMatchObject({ id: 'e5', streamId: 'cart-2', version: 2 });
  });

  it('refuses a changed event whose id is stored, and stores nothing of that file', () => {
    const dir = tempDir();
    writeFile(dir, 'a.ndjson', ndjson([{ id: 'x1', streamId: 's', type: 'T', data: { v: 1 } }]));
    expect(es(dir, ['import', 'a.ndjson']).code).toBe(0);
    const before = readAll(dir);

    writeFile(
      dir,
      'b.ndjson',
      ndjson([
        { id: 'new-1', streamId: 's', type: 'T', data: { v: 2 } },
        { id: 'x1', streamId: 's', type: 'T', data: { v: 999 } },
      ]),
    );
    const r = es(dir, ['import', 'b.ndjson']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('x1');
    expect(readAll(dir)).toEqual(before);

    // the same id in another stream or with another type is a different event too
    writeFile(dir, 'c.ndjson', ndjson([{ id: 'x1', streamId: 'other', type: 'T', data: { v: 1 } }]));
    expect(es(dir, ['import', 'c.ndjson']).code).toBe(2);
    writeFile(dir, 'd.ndjson', ndjson([{ id: 'x1', streamId: 's', type: 'U', data: { v: 1 } }]));
    expect(es(dir, ['import', 'd.ndjson']).code).toBe(2);
    expect(readAll(dir)).toEqual(before);
  });

  it('reports a malformed line by number, exit 2, and stores nothing of the file', () => {
    const dir = tempDir();
    expect(es(dir, ['append', 'seed', 'Seeded', '{}']).code).toBe(0);
    const before = readAll(dir);

    const good = (n: number) => JSON.stringify({ streamId: `s-${n}`, type: 'T', data: { n } });
    const cases: [string, string][] = [
      ['bad JSON on line 3', [good(1), good(2), '{"streamId": "s", "type": ', good(4)].join('\n')],
      ['no type on line 3', [good(1), good(2), JSON.stringify({ streamId: 's', data: {} }), good(4)].join('\n')],
      ['array data on line 3', [good(1), good(2), JSON.stringify({ streamId: 's', type: 'T', data: [1] }), good(4)].join('\n')],
      ['not an object on line 3', [good(1), good(2), '[1,2,3]', good(4)].join('\n')],
      ['no stream on line 3', [good(1), good(2), JSON.stringify({ type: 'T', data: {} }), good(4)].join('\n')],
    ];
    for (const [label, text] of cases) {
      writeFile(dir, 'bad.ndjson', `${text}\n`);
      const r = es(dir, ['import', 'bad.ndjson']);
      expect(r.code, label).toBe(2);
      expect(r.stderr, label).toMatch(/line 3\b/);
    }
    // a bad last line, after many good ones: still nothing stored
    const many = Array.from({ length: 200 }, (_, i) => good(i));
    writeFile(dir, 'late.ndjson', `${[...many, 'oops'].join('\n')}\n`);
    const late = es(dir, ['import', 'late.ndjson']);
    expect(late.code).toBe(2);
    expect(late.stderr).toMatch(/line 201\b/);

    expect(readAll(dir)).toEqual(before);
  });

  it('refuses $ streams in the file and unreadable files with exit 2', () => {
    const dir = tempDir();
    expect(es(dir, ['append', 'seed', 'Seeded', '{}']).code).toBe(0);
    const before = es(dir, ['read', '--include-system', '--json']).stdout;

    writeFile(
      dir,
      'sys.ndjson',
      ndjson([
        { streamId: 'fine', type: 'T', data: {} },
        { streamId: '$checkpoint-orders', type: 'Checkpoint', data: { position: 1000, version: 1 } },
      ]),
    );
    const sys = es(dir, ['import', 'sys.ndjson']);
    expect(sys.code).toBe(2);
    expect(sys.stderr).toMatch(/line 2\b/);

    const missing = es(dir, ['import', 'does-not-exist.ndjson']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('does-not-exist.ndjson');

    const folder = es(dir, ['import', '.']);
    expect(folder.code).toBe(2);

    expect(es(dir, ['read', '--include-system', '--json']).stdout).toBe(before);
  });

  it('reads standard input with -', () => {
    const dir = tempDir();
    const r = es(dir, ['import', '-'], { input: ndjson([{ streamId: 'in', type: 'FromStdin', data: { ok: true } }]) });
    expect(r.code).toBe(0);
    const [event] = readAll(dir);
    expect(event).toMatchObject({ streamId: 'in', type: 'FromStdin', data: { ok: true }, version: 1 });
  });
});

describe('es import (CSV)', () => {
  it('takes stream and type from the named columns and the other columns into data', () => {
    const dir = tempDir();
    writeFile(dir, 'orders.csv', ['order,event,amount,note', 'o-1,Placed,10,"hello, world"', 'o-2,Placed,20,', 'o-1,Paid,10,"quoted ""x"""'].join('\n') + '\n');
    const r = es(dir, ['import', 'orders.csv', '--format', 'csv', '--stream-column', 'order', '--type-column', 'event']);
    expect(r.code).toBe(0);
    const events = readAll(dir);
    expect(events.map((e) => [e.streamId, e.version, e.type])).toEqual([
      ['o-1', 1, 'Placed'],
      ['o-2', 1, 'Placed'],
      ['o-1', 2, 'Paid'],
    ]);
    expect(events[0]?.data).toEqual({ amount: '10', note: 'hello, world' });
    expect(events[2]?.data).toEqual({ amount: '10', note: 'quoted "x"' });
    expect(Object.keys(events[1]!.data).sort()).toEqual(['amount', 'note']);
  });

  it('is all or nothing for CSV too: a bad row or a missing column flag is exit 2', () => {
    const dir = tempDir();
    expect(es(dir, ['append', 'seed', 'Seeded', '{}']).code).toBe(0);
    const before = readAll(dir);
    writeFile(dir, 'bad.csv', ['s,t,v', 'a,T,1', 'b,T', 'c,T,3'].join('\n') + '\n');
    const r = es(dir, ['import', 'bad.csv', '--format', 'csv', '--stream-column', 's', '--type-column', 't']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/line 3\b/);

    writeFile(dir, 'sys.csv', ['s,t,v', 'a,T,1', '$x,T,2'].join('\n') + '\n');
    const sys = es(dir, ['import', 'sys.csv', '--format', 'csv', '--stream-column', 's', '--type-column', 't']);
    expect(sys.code).toBe(2);
    expect(sys.stderr).toMatch(/line 3\b/);

    writeFile(dir, 'ok.csv', ['s,t,v', 'a,T,1'].join('\n') + '\n');
    expect(es(dir, ['import', 'ok.csv', '--format', 'csv', '--stream-column', 's']).code).toBe(2);
    expect(es(dir, ['import', 'ok.csv', '--format', 'csv', '--stream-column', 'nope', '--type-column', 't']).code).toBe(2);
    expect(es(dir, ['import', 'ok.csv', '--format', 'xml']).code).toBe(2);
    expect(readAll(dir)).toEqual(before);
  });

  const receiptRecords = () =>
    parse(gunzipSync(readFileSync(RECEIPT)).toString('utf8'), { columns: true, bom: true, skip_empty_lines: true }) as Record<string, string>[];

  it('imports the real receipt.csv: 1,434 streams, 8,577 events in file order, counts per activity', () => {
    const dir = tempDir();
    const r = es(dir, RECEIPT_IMPORT);
    expect(r.code).toBe(0);

    const records = receiptRecords();
    expect(records).toHaveLength(8577);
    // stdout goes to a file here, so this test checks the store, not how a pipe is flushed
    const events = readAll(dir);
    expect(events).toHaveLength(8577);
    expect(new Set(events.map((e) => e.streamId)).size).toBe(1434);

    // file order: the n-th event is the n-th row
    for (let i = 0; i < records.length; i++) {
      const row = records[i]!;
      const event = events[i]!;
      if (
        event.streamId !== row['case:concept:name'] ||
        event.type !== row['concept:name'] ||
        event.data['concept:instance'] !== row['concept:instance'] ||
        event.data['time:timestamp'] !== row['time:timestamp']
      ) {
        throw new Error(`event ${i + 1} does not match CSV row ${i + 2}: ${JSON.stringify(event)} vs ${JSON.stringify(row)}`);
      }
    }
    const positions = events.map((e) => e.position);
    for (let i = 1; i < positions.length; i++) expect(positions[i]! > positions[i - 1]!).toBe(true);

    // versions 1, 2, 3 … within each case, in file order
    const versions = new Map<string, number>();
    for (const event of events) {
      const expected = (versions.get(event.streamId) ?? 0) + 1;
      if (event.version !== expected) throw new Error(`${event.streamId}: version ${event.version}, expected ${expected}`);
      versions.set(event.streamId, expected);
    }

    // the stream and type columns are not repeated in data; the others are there
    expect(Object.keys(events[0]!.data)).not.toContain('case:concept:name');
    expect(Object.keys(events[0]!.data)).not.toContain('concept:name');
    expect(Object.keys(events[0]!.data)).toContain('org:resource');

    const count = (types: string[]) => {
      const counts: Record<string, number> = {};
      for (const t of types) counts[t] = (counts[t] ?? 0) + 1;
      return counts;
    };
    expect(count(events.map((e) => e.type))).toEqual(count(records.map((row) => row['concept:name']!)));

    // one stream read back: the case's rows, in file order
    const someCase = records[0]!['case:concept:name']!;
    const caseRows = records.filter((row) => row['case:concept:name'] === someCase);
    const caseEvents = jsonLines(es(dir, ['read', '--stream', someCase, '--json']).stdout);
    expect(caseEvents.map((e) => e.type)).toEqual(caseRows.map((row) => row['concept:name']));
  });

  it('es read --json through a pipe prints every event of a large store (8,577 lines)', () => {
    const dir = tempDir();
    const imported = es(dir, RECEIPT_IMPORT);
    expect(imported.code).toBe(0);
    // spawnSync reads stdout through a pipe, as `es read --json | jq …` would
    const r = es(dir, ['read', '--json']);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(8577);
    expect(() => lines.forEach((l) => JSON.parse(l))).not.toThrow();
  });
});
