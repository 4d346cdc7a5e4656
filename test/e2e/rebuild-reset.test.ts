import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { appendMany, checkpointEvents, cleanupTempDirs, es, parseJson, seenPositions, tempDir, writeFile, writeRecorder } from './helpers.js';

afterAll(cleanupTempDirs);

const DB = (dir: string) => join(dir, '.es', 'events.db');

/** A recorder-like projection (table `seen_<name>`) whose setup and reset are given as source text. */
function projection(dir: string, name: string, lifecycle: { setup?: string; reset?: string }): void {
  const table = `seen_${name.replace(/-/g, '_')}`;
  writeFile(
    dir,
    `projections/${name}.mjs`,
    `export default {
  ${lifecycle.setup ?? `setup(db) { db.exec('CREATE TABLE IF NOT EXISTS ${table} (n INTEGER PRIMARY KEY AUTOINCREMENT, position INTEGER NOT NULL, stream_id TEXT NOT NULL, type TEXT NOT NULL)'); },`}
  ${lifecycle.reset ?? ''}
  handlers: {
    '*'(event, db) { db.prepare('INSERT INTO ${table} (position, stream_id, type) VALUES (?, ?, ?)').run(event.position, event.streamId, event.type); },
  },
};
`,
  );
}

describe('rebuild of projections whose reset cannot empty the read model', () => {
  it('refuses a missing, async or Promise-returning reset and a failing setup for that projection only: exit 1, the others rebuilt', () => {
    const dir = tempDir('es-rebuild-');
    writeRecorder(join(dir, 'projections'), 'good');
    projection(dir, 'no-reset', {});
    projection(dir, 'async-reset', { reset: "async reset(db) { db.exec('DELETE FROM seen_async_reset'); }," });
    // Not declared async, but returns a Promise after emptying the table: the transaction must roll back.
    projection(dir, 'promise-reset', { reset: "reset(db) { db.exec('DELETE FROM seen_promise_reset'); return Promise.resolve(); }," });
    projection(dir, 'bad-setup', {
      setup: `async setup(db) {
    if (process.env.BREAK_SETUP) throw new Error('setup says no');
    db.exec('CREATE TABLE IF NOT EXISTS seen_bad_setup (n INTEGER PRIMARY KEY AUTOINCREMENT, position INTEGER NOT NULL, stream_id TEXT NOT NULL, type TEXT NOT NULL)');
  },`,
      reset: 'reset() {},',
    });
    const positions = appendMany(dir, 'orders', 'OrderPlaced', 4);
    expect(es(dir, ['project', 'run']).code).toBe(0);
    const names = ['good', 'no-reset', 'async-reset', 'promise-reset'];
    const before = Object.fromEntries(names.map((n) => [n, checkpointEvents(dir, n)]));

    const r = es(dir, ['project', 'rebuild', '--all', '--json'], { env: { BREAK_SETUP: '1' } });
    expect(r.code, r.stderr).toBe(1);
    const rows = parseJson(r.stdout).projections as {
      name: string;
      state: string;
      processed: number;
      deadLettered: number;
      error: { message: string } | null;
    }[];
    const row = (name: string) => rows.find((p) => p.name === name)!;
    expect(row('good')).toMatchObject({ state: 'up-to-date', processed: 4, error: null });
    expect(row('no-reset').state).toBe('faulted');
    expect(row('no-reset').error?.message).toMatch(/no-reset.*reset\(db\).*reset\(\) \{\}/);
    expect(row('async-reset').error?.message).toMatch(/synchronous/);
    expect(row('promise-reset').error?.message).toMatch(/synchronous/);
    expect(row('bad-setup').error?.message).toContain('setup says no');
    // One line on stderr for each refused projection, naming it.
    for (const name of ['no-reset', 'async-reset', 'promise-reset', 'bad-setup']) {
      expect(r.stderr.split('\n').filter((line) => line.includes(name))).toHaveLength(1);
    }

    // Nothing doubled, nothing emptied: each read model holds every event once, and the refused
    // projections' checkpoints did not move.
    for (const name of names) expect(seenPositions(DB(dir), name), name).toEqual(positions);
    for (const name of ['no-reset', 'async-reset', 'promise-reset']) expect(checkpointEvents(dir, name), name).toEqual(before[name]);
    expect(checkpointEvents(dir, 'good').some((e) => e.type === 'RebuildStarted')).toBe(true);

    // Alone, the refusal is one line and exit 1; replay-from, which does not reset, still works.
    const alone = es(dir, ['project', 'rebuild', 'no-reset']);
    expect(alone.code).toBe(1);
    expect(alone.stderr.trim().split('\n')).toHaveLength(1);
    expect(alone.stderr).toContain('add reset(db)');
    expect(seenPositions(DB(dir), 'no-reset')).toEqual(positions);
    expect(es(dir, ['project', 'replay-from', 'no-reset', String(positions[3])]).code).toBe(0);
    expect(seenPositions(DB(dir), 'no-reset')).toEqual([...positions, positions[3]]);
  });
});
