import { describe, expect, it } from 'vitest';
import { parseCsvEvents, parseNdjson } from '../../src/cli/import-formats.js';
import { thrown } from '../support/thrown.js';

function usageAt(fn: () => unknown, line: number): string {
  const error = thrown(fn) as { code?: string; message: string };
  expect(error.code, error.message).toBe('USAGE');
  expect(error.message).toMatch(new RegExp(`\\bline ${line}\\b`));
  return error.message;
}

describe('parseNdjson', () => {
  it('reads one event per line, skipping blank lines and keeping each event’s line number', () => {
    const text = [
      '{"streamId":"order-1","type":"OrderPlaced","data":{"total":12.5},"metadata":{"by":"u1"},"id":"e-1"}',
      '',
      '   ',
      '{"streamId":"order-2","type":"OrderPaid"}\r',
      '{"streamId":"order-1","type":"OrderShipped","data":{"carrier":"dhl"}}',
      '',
    ].join('\n');
    expect(parseNdjson(text)).toEqual([
      { line: 1, streamId: 'order-1', type: 'OrderPlaced', data: { total: 12.5 }, metadata: { by: 'u1' }, id: 'e-1' },
      { line: 4, streamId: 'order-2', type: 'OrderPaid', data: {}, metadata: {} },
      { line: 5, streamId: 'order-1', type: 'OrderShipped', data: { carrier: 'dhl' }, metadata: {} },
    ]);
    expect(parseNdjson('')).toEqual([]);
  });

  it('reports malformed JSON and refuses system streams ($…), with the line number', () => {
    const malformed = '{"streamId":"a","type":"X"}\n\n{"streamId":"a","type":\n{"streamId":"a","type":"Y"}';
    usageAt(() => parseNdjson(malformed), 3);

    const text = '{"streamId":"a","type":"X"}\n{"streamId":"$checkpoint-orders","type":"Checkpoint","data":{"position":1}}';
    const message = usageAt(() => parseNdjson(text), 2);
    expect(message).toContain('$checkpoint-orders');
  });

  it('requires object data and metadata, a stream, a type and a string id', () => {
    const prefix = '{"streamId":"a","type":"X"}\n';
    for (const data of ['[1,2]', '"text"', '3', 'true']) {
      usageAt(() => parseNdjson(`${prefix}{"streamId":"a","type":"X","data":${data}}`), 2);
    }
    usageAt(() => parseNdjson(`${prefix}{"streamId":"a","type":"X","metadata":[]}`), 2);

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
    for (const line of bad) usageAt(() => parseNdjson(`\n${line}`), 2);
  });
});

describe('parseCsvEvents', () => {
  const columns = { streamColumn: 'order', typeColumn: 'event' };

  it('puts every column but the stream, type and id columns into data, as strings; strips a BOM', () => {
    const text = 'order,event,total,currency\norder-1,OrderPlaced,12.50,EUR\norder-2,OrderPaid,7,USD\n';
    expect(parseCsvEvents(text, columns)).toEqual([
      { line: 2, streamId: 'order-1', type: 'OrderPlaced', data: { total: '12.50', currency: 'EUR' } },
      { line: 3, streamId: 'order-2', type: 'OrderPaid', data: { total: '7', currency: 'USD' } },
    ]);

    const withIds = 'id,order,event,note\ne-1,order-1,OrderPlaced,"hello, world"\n';
    expect(parseCsvEvents(withIds, { ...columns, idColumn: 'id' })).toEqual([
      { line: 2, streamId: 'order-1', type: 'OrderPlaced', data: { note: 'hello, world' }, id: 'e-1' },
    ]);
    usageAt(() => parseCsvEvents('id,order,event\n,order-1,X\n', { ...columns, idColumn: 'id' }), 2);

    expect(parseCsvEvents('order,event\n', columns)).toEqual([]);
    expect(parseCsvEvents('\uFEFForder,event\no-1,A\n', columns)).toEqual([
      { line: 2, streamId: 'o-1', type: 'A', data: {} },
    ]);
  });

  it('reports a system stream or a missing stream or type by the line number in the file', () => {
    const text = 'order,event\norder-1,OrderPlaced\n$checkpoint-x,Checkpoint\n';
    usageAt(() => parseCsvEvents(text, columns), 3);

    usageAt(() => parseCsvEvents('order,event,note\no-1,A,"two\nlines"\n$x,B,z\n', columns), 4);
    usageAt(() => parseCsvEvents('order,event\n\no-1,A\n\n$x,B\n', columns), 5);

    usageAt(() => parseCsvEvents('order,event\norder-1,A\norder-2,\n', columns), 3);
    usageAt(() => parseCsvEvents('order,event\n,A\n', columns), 2);
  });

  it('reports malformed CSV by line, and needs the column options and a header that has them', () => {
    usageAt(() => parseCsvEvents('order,event,total\norder-1,A,1\norder-2,B\n', columns), 3);

    expect(thrown(() => parseCsvEvents('order,event\na,B\n', { streamColumn: 'order' }))).toMatchObject({ code: 'USAGE' });
    expect(thrown(() => parseCsvEvents('order,event\na,B\n', { typeColumn: 'event' }))).toMatchObject({ code: 'USAGE' });
    const missing = thrown(() => parseCsvEvents('order,kind\na,B\n', columns)) as Error;
    expect(missing).toMatchObject({ code: 'USAGE' });
    expect(missing.message).toContain('event');
    expect(thrown(() => parseCsvEvents('order,event\na,B\n', { ...columns, idColumn: 'uuid' }))).toMatchObject({
      code: 'USAGE',
    });
  });
});
