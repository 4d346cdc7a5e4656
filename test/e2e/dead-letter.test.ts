import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { appendMany, appendOne, cleanupTempDirs, es, parseJson, tempDir, writeRecorder } from './helpers.js';

afterAll(cleanupTempDirs);

/** The samples of one family in Prometheus text, by projection label, and its TYPE line. */
function metric(text: string, name: string) {
  const type = new RegExp(`^# TYPE ${name} (\\w+)$`, 'm').exec(text)?.[1];
  const values = new Map<string, number>();
  for (const m of text.matchAll(new RegExp(`^${name}\\{projection="([^"]+)"\\} (\\S+)$`, 'gm'))) values.set(m[1]!, Number(m[2]));
  return { type, values };
}

describe('--on-error skip says what it dead-lettered', () => {
  it('in the human line, the JSON row and a Prometheus counter of the dead-letter stream', () => {
    const dir = tempDir('es-dead-');
    writeRecorder(join(dir, 'projections'), 'fragile', { failOnBoom: true });
    writeRecorder(join(dir, 'projections'), 'sturdy');
    appendMany(dir, 'acc', 'Deposited', 2);
    const bad = appendOne(dir, 'acc', 'Deposited', { boom: true });
    appendMany(dir, 'acc', 'Deposited', 2);

    const run = es(dir, ['project', 'run', '--on-error', 'skip', '--json']);
    expect(run.code).toBe(0);
    const rows = parseJson(run.stdout).projections as { name: string; state: string; deadLettered: number }[];
    expect(rows.find((r) => r.name === 'fragile')).toMatchObject({ state: 'up-to-date', deadLettered: 1 });
    expect(rows.find((r) => r.name === 'sturdy')).toMatchObject({ state: 'up-to-date', deadLettered: 0 });

    appendOne(dir, 'acc', 'Deposited', { boom: true });
    appendOne(dir, 'acc', 'Deposited', { boom: true });
    const text = es(dir, ['project', 'run', '--on-error', 'skip']);
    expect(text.code).toBe(0);
    const line = text.stdout.split('\n').find((l) => l.includes('fragile'));
    expect(line).toMatch(/up-to-date/);
    expect(line).toContain('2 events dead-lettered');
    expect(line).toContain('$deadletter-fragile');
    expect(text.stdout.split('\n').find((l) => l.includes('sturdy'))).not.toMatch(/dead-letter/);

    const prom = es(dir, ['project', 'status', '--format', 'prometheus']);
    expect(prom.code).toBe(0);
    const dead = metric(prom.stdout, 'es_projection_dead_letters_total');
    expect(dead.type).toBe('counter');
    expect(Object.fromEntries(dead.values)).toEqual({ fragile: 3, sturdy: 0 });
    // The count comes from the store: the stream holds each dead-lettered event.
    const letters = es(dir, ['read', '--stream', '$deadletter-fragile', '--json']).stdout.trim().split('\n');
    expect(letters).toHaveLength(3);
    expect(JSON.parse(letters[0]!).data.event.position).toBe(bad);
  });
});
