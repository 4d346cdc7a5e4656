import { describe, expect, it } from 'vitest';
import { csvEvents, ndjsonEvents, type CsvColumns, type ParsedEvent } from '../../src/cli/import-formats.js';
import { gzipSync } from 'node:zlib';
import { decompressed, textLines } from '../../src/cli/import-input.js';

/** The text as a byte stream cut into pieces of `size` bytes, as a file or a pipe delivers it. */
async function* bytes(text: string | Buffer, size = 7): AsyncGenerator<Buffer> {
  const all = Buffer.isBuffer(text) ? text : Buffer.from(text);
  for (let at = 0; at < all.length; at += size) yield all.subarray(at, at + size);
}

async function collect(batches: AsyncIterable<ParsedEvent[]>): Promise<ParsedEvent[]> {
  const events: ParsedEvent[] = [];
  for await (const batch of batches) events.push(...batch);
  return events;
}

const parseNdjson = (text: string | Buffer) => collect(ndjsonEvents(textLines(bytes(text))));
const parseCsvEvents = (text: string | Buffer, columns: CsvColumns) => collect(csvEvents(textLines(bytes(text)), columns));

async function thrown(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  return new Error('(the call did not throw)');
}

async function usageAt(fn: () => Promise<unknown>, line: number): Promise<string> {
  const error = (await thrown(fn)) as { code?: string; message: string };
  expect(error.code, error.message).toBe('USAGE');
  expect(error.message).toMatch(new RegExp(`\\bline ${line}\\b`));
  return error.message;
}

describe('parseNdjson', () => {
  it('reads one event per line, skipping blank lines and keeping each event’s line number', async () => {
    const text = [
      '{"streamId":"order-1","type":"OrderPlaced","data":{"total":12.5},"metadata":{"by":"u1"},"id":"e-1"}',
      '',
      '   ',
      '{"streamId":"order-2","type":"OrderPaid"}\r',
      '{"streamId":"order-1","type":"OrderShipped","data":{"carrier":"dhl"}}',
      '',
    ].join('\n');
    expect(await parseNdjson(text)).toEqual([
      { line: 1, streamId: 'order-1', type: 'OrderPlaced', data: { total: 12.5 }, metadata: { by: 'u1' }, id: 'e-1' },
      { line: 4, streamId: 'order-2', type: 'OrderPaid', data: {}, metadata: {} },
      { line: 5, streamId: 'order-1', type: 'OrderShipped', data: { carrier: 'dhl' }, metadata: {} },
    ]);
    expect(await parseNdjson('')).toEqual([]);
  });

  it('reports malformed JSON and refuses system streams ($…), with the line number', async () => {
    const malformed = '{"streamId":"a","type":"X"}\n\n{"streamId":"a","type":\n{"streamId":"a","type":"Y"}';
    await usageAt(() => parseNdjson(malformed), 3);

    const text = '{"streamId":"a","type":"X"}\n{"streamId":"$checkpoint-orders","type":"Checkpoint","data":{"position":1}}';
    const message = await usageAt(() => parseNdjson(text), 2);
    expect(message).toContain('$checkpoint-orders');
  });

  it('requires object data and metadata, a stream, a type and a string id', async () => {
    const prefix = '{"streamId":"a","type":"X"}\n';
    for (const data of ['[1,2]', '"text"', '3', 'true']) {
      await usageAt(() => parseNdjson(`${prefix}{"streamId":"a","type":"X","data":${data}}`), 2);
    }
    await usageAt(() => parseNdjson(`${prefix}{"streamId":"a","type":"X","metadata":[]}`), 2);

    const bad = [
      '[1,2,3]',
      '"just a string"',
      '{"type":"X"}',
      '{"streamId":"","type":"X"}',
      '{"streamId":"a"}',
      '{"streamId":"a","type":"  "}',
      '{"streamId":7,"type":"X"}',
      '{"streamId":"a","type":"X","id":42}',
      '{"streamId":"a","type":"X","id":""}',
    ];
    for (const line of bad) await usageAt(() => parseNdjson(`\n${line}`), 2);
  });
});

describe('parseCsvEvents', () => {
  const columns = { streamColumn: 'order', typeColumn: 'event' };

  it('puts every column but the stream, type and id columns into data, as strings; strips a BOM', async () => {
    const text = 'order,event,total,currency\norder-1,OrderPlaced,12.50,EUR\norder-2,OrderPaid,7,USD\n';
    expect(await parseCsvEvents(text, columns)).toEqual([
      { line: 2, streamId: 'order-1', type: 'OrderPlaced', data: { total: '12.50', currency: 'EUR' } },
      { line: 3, streamId: 'order-2', type: 'OrderPaid', data: { total: '7', currency: 'USD' } },
    ]);

    const withIds = 'id,order,event,note\ne-1,order-1,OrderPlaced,"hello, world"\n';
    expect(await parseCsvEvents(withIds, { ...columns, idColumn: 'id' })).toEqual([
      { line: 2, streamId: 'order-1', type: 'OrderPlaced', data: { note: 'hello, world' }, id: 'e-1' },
    ]);
    await usageAt(() => parseCsvEvents('id,order,event\n,order-1,X\n', { ...columns, idColumn: 'id' }), 2);

    expect(await parseCsvEvents('order,event\n', columns)).toEqual([]);
    expect(await parseCsvEvents('\uFEFForder,event\no-1,A\n', columns)).toEqual([{ line: 2, streamId: 'o-1', type: 'A', data: {} }]);
  });

  it('reports a system stream or a missing stream or type by the line number in the file', async () => {
    const text = 'order,event\norder-1,OrderPlaced\n$checkpoint-x,Checkpoint\n';
    await usageAt(() => parseCsvEvents(text, columns), 3);

    await usageAt(() => parseCsvEvents('order,event,note\no-1,A,"two\nlines"\n$x,B,z\n', columns), 4);
    await usageAt(() => parseCsvEvents('order,event\n\no-1,A\n\n$x,B\n', columns), 5);

    await usageAt(() => parseCsvEvents('order,event\norder-1,A\norder-2,\n', columns), 3);
    await usageAt(() => parseCsvEvents('order,event\n,A\n', columns), 2);
  });

  it('reports malformed CSV by line, and needs the column options and a header that has them', async () => {
    await usageAt(() => parseCsvEvents('order,event,total\norder-1,A,1\norder-2,B\n', columns), 3);

    expect(await thrown(() => parseCsvEvents('order,event\na,B\n', { streamColumn: 'order' }))).toMatchObject({ code: 'USAGE' });
    expect(await thrown(() => parseCsvEvents('order,event\na,B\n', { typeColumn: 'event' }))).toMatchObject({ code: 'USAGE' });
    const missing = (await thrown(() => parseCsvEvents('order,kind\na,B\n', columns))) as Error;
    expect(missing).toMatchObject({ code: 'USAGE' });
    expect(missing.message).toContain('event');
    expect(await thrown(() => parseCsvEvents('order,event\na,B\n', { ...columns, idColumn: 'uuid' }))).toMatchObject({
      code: 'USAGE',
    });
  });
});

describe('the input: UTF-8, line numbers, gzip, sizes', () => {
  const columns = { streamColumn: 'order', typeColumn: 'event' };
  const latin1 = (text: string) => Buffer.from(text, 'latin1');

  it('refuses bytes that are not UTF-8 with their line number, in NDJSON and CSV, whatever the chunking', async () => {
    const ndjson = latin1('{"streamId":"a","type":"X"}\n\n{"streamId":"b","type":"X","data":{"city":"Caf\xe9"}}\n{"streamId":"c","type":"X"}\n');
    for (const size of [1, 3, 7, 64, 4096]) {
      const error = (await thrown(() => collect(ndjsonEvents(textLines(bytes(ndjson, size)))))) as Error;
      expect(error.message, `chunks of ${size}`).toMatch(/^line 3: not valid UTF-8 text \(convert/);
    }
    const csv = latin1('order,event,city\no-1,A,Paris\no-2,B,Caf\xe9\n');
    expect(((await thrown(() => parseCsvEvents(csv, columns))) as Error).message).toContain('line 3: not valid UTF-8');
    // a truncated multi-byte character on the last line, with no newline after it
    await usageAt(() => parseNdjson(Buffer.concat([Buffer.from('{"streamId":"a","type":"X"}\n{"streamId":"a","type":"'), Buffer.from([0xe2, 0x82])])), 2);
    // an overlong encoding and a lone surrogate are not UTF-8 either
    await usageAt(() => parseNdjson(Buffer.from([...Buffer.from('{"streamId":"a","type":"'), 0xc0, 0xaf, ...Buffer.from('"}\n')])), 1);
    await usageAt(() => parseNdjson(Buffer.from([...Buffer.from('{"streamId":"a","type":"'), 0xed, 0xa0, 0x80, ...Buffer.from('"}\n')])), 1);
  });

  it('keeps multi-byte characters cut between chunks, and reports an earlier malformed line first', async () => {
    const text = '{"streamId":"é-1","type":"Größe €","data":{"emoji":"🙂"}}\n';
    for (const size of [1, 2, 5]) {
      expect(await collect(ndjsonEvents(textLines(bytes(text, size))))).toEqual([
        { line: 1, streamId: 'é-1', type: 'Größe €', data: { emoji: '🙂' }, metadata: {} },
      ]);
    }
    const both = latin1('{"streamId":"a","type":"X"}\n{oops\n{"streamId":"b","type":"\xe9"}\n');
    await usageAt(() => collect(ndjsonEvents(textLines(bytes(both, 4096)))), 2);
  });

  it('refuses a line longer than 64 MiB instead of filling memory with it', async () => {
    const mib = Buffer.alloc(2 ** 20, 0x61);
    async function* noNewline() {
      yield Buffer.from('{"streamId":"a","type":"X"}\n\n');
      for (let i = 0; i < 100; i++) yield mib;
    }
    const error = (await thrown(() => collect(ndjsonEvents(textLines(noNewline()))))) as Error;
    expect(error).toMatchObject({ code: 'USAGE', message: 'line 3: longer than 64 MiB without a newline' });
  });

  it('refuses a CSV record over the limit (an unclosed quote) instead of gathering the file into it', async () => {
    const rows = (from: number) => Array.from({ length: 100 }, (_, i) => `o-${from + i},B,more text\n`).join('');
    async function* unclosed() {
      yield { text: 'order,event,note\no-1,A,x\no-2,A,"never closed\n', line: 1 };
      for (let i = 0; i < 100; i++) yield { text: rows(i * 100), line: 4 + i * 100 };
    }
    const error = (await thrown(() => collect(csvEvents(unclosed(), columns, 1000)))) as Error;
    expect(error).toMatchObject({ code: 'USAGE', message: 'line 3: this CSV record runs over 1000 characters (a quote left open?)' });
    // the default is 64 MiB: rows of any ordinary size pass
    const long = `order,event,note\no-1,A,"${'x'.repeat(2 ** 20)}"\n`;
    expect(await parseCsvEvents(long, columns)).toHaveLength(1);
  });

  it('drops a byte order mark at the start of NDJSON', async () => {
    expect(await parseNdjson('\uFEFF{"streamId":"a","type":"X"}\n')).toEqual([{ line: 1, streamId: 'a', type: 'X', data: {}, metadata: {} }]);
  });

  it('reads gzip by its magic bytes, and passes other input through unchanged', async () => {
    const text = '{"streamId":"a","type":"X"}\n{"streamId":"b","type":"Y"}\n';
    const plain = async (input: Buffer) => {
      const parts: Buffer[] = [];
      for await (const chunk of decompressed(bytes(input, 1))) parts.push(chunk);
      return Buffer.concat(parts).toString();
    };
    expect(await plain(gzipSync(text))).toBe(text);
    expect(await plain(Buffer.from(text))).toBe(text);
    expect(await plain(Buffer.from([0x1f]))).toBe('\x1f');
    const broken = gzipSync(text).subarray(0, 20);
    expect(await thrown(() => plain(broken))).toMatchObject({ code: 'USAGE', message: expect.stringContaining('gzip') });
  });
});

describe('names and headers', () => {
  const columns = { streamColumn: 'order', typeColumn: 'event' };

  it('refuses control characters in stream ids and types, shown escaped', async () => {
    const message = await usageAt(() => parseNdjson('{"streamId":"a","type":"X"}\n{"streamId":"a\\u001b[31mred","type":"X"}\n'), 2);
    expect(message).toContain('\\x1b');
    // eslint-disable-next-line no-control-regex
    expect(message).not.toMatch(/\x1b/);
    for (const char of ['\u0000', '\t', '\u007f', '\u0085', '\u009b']) {
      const escaped = JSON.stringify(char);
      await usageAt(() => parseNdjson(`{"streamId":"s","type":${escaped.slice(0, -1)}Type"}\n`), 1);
      await usageAt(() => parseCsvEvents(`order,event\no${char}1,A\n`, columns), 2);
    }
    // printable non-ASCII is fine
    expect(await parseNdjson('{"streamId":"ordre-é","type":"Créé"}\n')).toHaveLength(1);
  });

  it('refuses a header without the named columns even with no rows, an empty input, and a column named twice', async () => {
    const missing = (await thrown(() => parseCsvEvents('order,kind\n', columns))) as Error;
    expect(missing).toMatchObject({ code: 'USAGE' });
    expect(missing.message).toContain('"event"');
    expect(await thrown(() => parseCsvEvents('order,event\n', { ...columns, idColumn: 'uuid' }))).toMatchObject({ code: 'USAGE' });
    expect(await thrown(() => parseCsvEvents('', columns))).toMatchObject({ code: 'USAGE', message: expect.stringContaining('header') });

    const twice = (await thrown(() => parseCsvEvents('order,event,city,city\no-1,A,x,y\n', columns))) as Error;
    expect(twice).toMatchObject({ code: 'USAGE' });
    expect(twice.message).toContain('"city" twice');
    expect(await thrown(() => parseCsvEvents('order,event,order\n', columns))).toMatchObject({ code: 'USAGE' });
  });
});
