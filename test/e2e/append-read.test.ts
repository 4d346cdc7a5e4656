import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ISO_UTC, checkpointEvents, cleanupTempDirs, es, jsonLines, readAll, tempDir, writeRecorder } from './helpers.js';

afterAll(cleanupTempDirs);

describe('es append', () => {
  it('creates the default store, prints each position and honours --expected-version', () => {
    const dir = tempDir();
    const first = es(dir, ['append', 'order-1', 'OrderPlaced', '{"total":42}']);
    expect(first.code).toBe(0);
    expect(first.stdout.trim()).toMatch(/^\d+$/);
    expect(existsSync(join(dir, '.es', 'events.db'))).toBe(true);
    const p1 = Number(first.stdout.trim());

    // a number: the stream must be at exactly that version
    const second = es(dir, ['append', 'order-1', 'OrderPaid', '{}', '--expected-version', '1']);
    expect(second.code).toBe(0);
    const p2 = Number(second.stdout.trim());
    expect(p2).toBeGreaterThan(p1);

    const stale = es(dir, ['append', 'order-1', 'OrderShipped', '{}', '--expected-version', '1']);
    expect(stale.code).toBe(4);
    expect(stale.stdout.trim()).toBe('');
    expect(stale.stderr).toMatch(/conflict|version/i);

    // no-stream and 0: the stream must not exist yet
    expect(es(dir, ['append', 'order-1', 'X', '{}', '--expected-version', 'no-stream']).code).toBe(4);
    expect(es(dir, ['append', 'order-1', 'X', '{}', '--expected-version', '0']).code).toBe(4);
    const fresh = es(dir, ['append', 'order-2', 'OrderPlaced', '{}', '--expected-version', 'no-stream']);
    expect(fresh.code).toBe(0);
    const zero = es(dir, ['append', 'order-3', 'OrderPlaced', '{}', '--expected-version', '0']);
    expect(zero.code).toBe(0);

    // any: no check
    const any = es(dir, ['append', 'order-1', 'Note', '{}', '--expected-version', 'any']);
    expect(any.code).toBe(0);
    const tooHigh = es(dir, ['append', 'order-1', 'X', '{}', '--expected-version', '7']);
    expect(tooHigh.code).toBe(4);

    const events = readAll(dir);
    expect(events.map((e) => [e.streamId, e.version, e.type])).toEqual([
      ['order-1', 1, 'OrderPlaced'],
      ['order-1', 2, 'OrderPaid'],
      ['order-2', 1, 'OrderPlaced'],
      ['order-3', 1, 'OrderPlaced'],
      ['order-1', 3, 'Note'],
    ]);
    expect(events[0]?.position).toBe(p1);
    expect(events[1]?.position).toBe(p2);
    expect(events[0]?.data).toEqual({ total: 42 });
    expect(events[4]?.position).toBe(Number(any.stdout.trim()));
    const positions = events.map((e) => e.position);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(new Set(positions).size).toBe(positions.length);
  });

  it('refuses system streams, non-object data and malformed flags with exit 2 and stores nothing', () => {
    const dir = tempDir();
    expect(es(dir, ['append', 'ok', 'Seed', '{}']).code).toBe(0);

    const system = es(dir, ['append', '$checkpoint-x', 'Checkpoint', '{"position":1}']);
    expect(system.code).toBe(2);
    expect(system.stderr).toContain('$');
    expect(es(dir, ['append', '$mine', 'Anything']).code).toBe(2);

    for (const bad of ['[1,2]', '"text"', '42', 'null', 'not json', '{"a":']) {
      const r = es(dir, ['append', 's', 'T', bad]);
      expect(r.code, `data ${bad}`).toBe(2);
      expect(r.stderr.length, `data ${bad}`).toBeGreaterThan(0);
    }
    expect(es(dir, ['append', 's', 'T', '{}', '--metadata', '[1]']).code).toBe(2);
    expect(es(dir, ['append', 's', 'T', '{}', '--metadata', 'nope']).code).toBe(2);
    expect(es(dir, ['append', 's', 'T', '{}', '--expected-version', 'abc']).code).toBe(2);
    expect(es(dir, ['append', 's', 'T', '{}', '--expected-version', '-1']).code).toBe(2);

    const all = es(dir, ['read', '--include-system', '--json']);
    expect(all.code).toBe(0);
    expect(jsonLines(all.stdout).map((e) => e.streamId)).toEqual(['ok']);
  });

  it('stores --metadata, and data defaults to an empty object', () => {
    const dir = tempDir();
    const r = es(dir, ['append', 'user-1', 'Registered', '{"email":"a@b.c"}', '--metadata', '{"actor":"admin","n":2}']);
    expect(r.code).toBe(0);
    expect(es(dir, ['append', 'user-1', 'Touched']).code).toBe(0);
    const [registered, touched] = readAll(dir);
    expect(registered?.metadata).toEqual({ actor: 'admin', n: 2 });
    expect(registered?.data).toEqual({ email: 'a@b.c' });
    expect(touched?.data).toEqual({});
    expect(touched?.metadata).toEqual({});
  });
});

describe('es read', () => {
  it('filters by --stream, --from and --limit and prints full JSON events', () => {
    const dir = tempDir();
    const input = [
      { streamId: 'a', type: 'A1', data: { n: 1 } },
      { streamId: 'b', type: 'B1', data: { n: 2 }, metadata: { m: true } },
      { streamId: 'a', type: 'A2', data: { n: 3 }, id: 'fixed-id-3' },
      { streamId: 'b', type: 'B2', data: { n: 4 } },
      { streamId: 'a', type: 'A3', data: { n: 5 } },
    ];
    const imported = es(dir, ['import', '-'], { input: input.map((e) => JSON.stringify(e)).join('\n') });
    expect(imported.code).toBe(0);

    const r = es(dir, ['read', '--json']);
    expect(r.code).toBe(0);
    const all = jsonLines(r.stdout);
    expect(all).toHaveLength(5);
    for (const event of all) {
      expect(Object.keys(event).sort()).toEqual(['data', 'id', 'metadata', 'position', 'recordedAt', 'streamId', 'type', 'version'].sort());
      expect(Number.isInteger(event.position)).toBe(true);
      expect(typeof event.id).toBe('string');
      expect(event.id.length).toBeGreaterThan(0);
      expect(event.recordedAt).toMatch(ISO_UTC);
    }
    expect(all.map((e) => e.data.n)).toEqual([1, 2, 3, 4, 5]);
    expect(all.map((e) => e.version)).toEqual([1, 1, 2, 2, 3]);
    expect(all[1]?.metadata).toEqual({ m: true });
    expect(all[0]?.metadata).toEqual({});
    expect(all[2]?.id).toBe('fixed-id-3');
    // ids that were not given are UUIDs, all unique
    expect(all[0]?.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
    expect(new Set(all.map((e) => e.id)).size).toBe(5);

    const streamA = jsonLines(es(dir, ['read', '--stream', 'a', '--json']).stdout);
    expect(streamA.map((e) => e.type)).toEqual(['A1', 'A2', 'A3']);

    const third = all[2]!.position;
    const from = jsonLines(es(dir, ['read', '--from', String(third), '--json']).stdout);
    expect(from.map((e) => e.data.n)).toEqual([3, 4, 5]);

    const limited = jsonLines(es(dir, ['read', '--limit', '2', '--json']).stdout);
    expect(limited.map((e) => e.data.n)).toEqual([1, 2]);

    const combined = jsonLines(es(dir, ['read', '--stream', 'b', '--from', String(third), '--limit', '5', '--json']).stdout);
    expect(combined.map((e) => e.type)).toEqual(['B2']);

    // the plain output shows the events too
    const text = es(dir, ['read']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('A2');
    expect(text.stdout).toContain('b');

    expect(es(dir, ['read', '--from', 'abc']).code).toBe(2);
    expect(es(dir, ['read', '--limit', 'many']).code).toBe(2);
  });

  it('shows system streams only with --include-system or --stream', () => {
    const dir = tempDir();
    writeRecorder(join(dir, 'projections'), 'all-events');
    expect(es(dir, ['append', 'x', 'Happened', '{}']).code).toBe(0);
    expect(es(dir, ['append', 'x', 'Happened', '{}']).code).toBe(0);
    expect(es(dir, ['project', 'run']).code).toBe(0);

    const plain = jsonLines(es(dir, ['read', '--json']).stdout);
    expect(plain.map((e) => e.streamId)).toEqual(['x', 'x']);

    const withSystem = jsonLines(es(dir, ['read', '--include-system', '--json']).stdout);
    expect(withSystem.some((e) => e.streamId === '$checkpoint-all-events')).toBe(true);
    expect(withSystem.length).toBeGreaterThan(2);
    const positions = withSystem.map((e) => e.position);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);

    const checkpoints = checkpointEvents(dir, 'all-events');
    expect(checkpoints.length).toBeGreaterThan(0);
    expect(checkpoints.every((e) => e.streamId === '$checkpoint-all-events')).toBe(true);
  });
});
