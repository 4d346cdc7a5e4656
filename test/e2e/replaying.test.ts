/**
 * context.replaying through the CLI: `rebuild` and `replay-from` killed with SIGKILL in the middle of
 * the replay, then a plain `project run` (a new process): the events the projection had reached
 * before are still told "replaying", the events after that point are not. One set-based projection,
 * one per-event, each recording the flag it was given per event id.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, expect, it } from 'vitest';
import { ES_BIN } from './helpers.js';

const TABLE = (name: string) => `
  setup(db) { db.exec('CREATE TABLE IF NOT EXISTS ${name}_seen (event_id TEXT PRIMARY KEY, position INTEGER, times INTEGER, replaying INTEGER)'); },
  reset(db) { db.exec('DELETE FROM ${name}_seen'); },`;
const RECORD = (name: string) =>
  `db.prepare('INSERT INTO ${name}_seen VALUES (?, ?, 1, ?) ON CONFLICT (event_id) DO UPDATE SET times = times + 1, replaying = excluded.replaying')`;
const SETS = `export default {
  name: 'sets',${TABLE('sets')}
  batch(events, db, context) {
    const insert = ${RECORD('sets')};
    for (const e of events) insert.run(e.id, e.position, context.replaying ? 1 : 0);
  },
};`;
const EACH = `export default {
  name: 'each',${TABLE('each')}
  handlers: { '*'(e, db, context) { ${RECORD('each')}.run(e.id, e.position, context.replaying ? 1 : 0); } },
};`;

const made: string[] = [];
afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function es(cwd: string, args: string[]) {
  return spawnSync(process.execPath, [ES_BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
}

function importEvents(dir: string, from: number, count: number): void {
  const lines = Array.from({ length: count }, (_, k) =>
    JSON.stringify({ id: `e-${from + k}`, streamId: `s-${(from + k) % 31}`, type: 'Added', data: { n: from + k } }),
  );
  writeFileSync(join(dir, 'events.ndjson'), `${lines.join('\n')}\n`);
  expect(es(dir, ['import', 'events.ndjson']).status).toBe(0);
}

function query<T>(dir: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(join(dir, '.es', 'events.db'), { readonly: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

const lastCheckpoint = (dir: string, name: string) => {
  const [row] = query<{ type: string; data: string }>(
    dir,
    'SELECT type, data FROM events WHERE stream_id = ? ORDER BY version DESC LIMIT 1',
    `$checkpoint-${name}`,
  );
  return row ? { type: row.type, data: JSON.parse(row.data) as { position: number; replayingUntil?: number } } : undefined;
};

/** Starts `es`, and kills it with SIGKILL once its checkpoint has moved past `past` (but before the end). */
async function killMidway(dir: string, args: string[], name: string, past: number): Promise<number> {
  const child = spawn(process.execPath, [ES_BIN, ...args], { cwd: dir, stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let done = false;
  void exited.then(() => (done = true));
  let position = 0;
  while (!done) {
    const checkpoint = lastCheckpoint(dir, name);
    // A checkpoint of the replay (it carries the mark), not the one from before it.
    if (checkpoint?.type === 'Checkpoint' && checkpoint.data.replayingUntil !== undefined && checkpoint.data.position > past) {
      child.kill('SIGKILL');
      position = checkpoint.data.position;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await exited;
  return position;
}

it('rebuild and replay-from killed with -9 mid-replay: after a restart, replaying holds until the old position, not after', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'es-replaying-'));
  made.push(dir);
  mkdirSync(join(dir, 'projections'));
  writeFileSync(join(dir, 'projections', 'sets.mjs'), SETS);
  writeFileSync(join(dir, 'projections', 'each.mjs'), EACH);
  importEvents(dir, 0, 30_000);
  expect(es(dir, ['project', 'run']).status).toBe(0);
  const reached = lastCheckpoint(dir, 'sets')!.data.position;
  importEvents(dir, 30_000, 500); // new events past the old position

  for (const name of ['sets', 'each']) {
    const killedAt = await killMidway(dir, ['project', 'rebuild', name, '--batch-size', '20'], name, 0);
    // Killed in the middle: the checkpoint carries the mark.
    expect(killedAt, `${name}: the rebuild ended before it could be killed`).toBeGreaterThan(0);
    expect(killedAt).toBeLessThan(reached);
    expect(lastCheckpoint(dir, name)!.data.replayingUntil).toBe(reached);

    const rest = es(dir, ['project', 'run', name]);
    expect(rest.status, rest.stderr).toBe(0);
    const rows = query<{ position: number; times: number; replaying: number }>(dir, `SELECT position, times, replaying FROM ${name}_seen`);
    expect(rows).toHaveLength(30_500);
    expect(rows.every((r) => r.times === 1)).toBe(true);
    const wrong = rows.filter((r) => r.replaying !== (r.position <= reached ? 1 : 0));
    expect(wrong, `${name}: events whose replaying flag is wrong`).toEqual([]);
    expect(lastCheckpoint(dir, name)!.data.replayingUntil).toBeUndefined();
  }

  // replay-from, killed, then run: every event from the replay's start up to the head it had reached is replaying.
  const head = lastCheckpoint(dir, 'sets')!.data.position;
  const [start] = query<{ position: number }>(dir, "SELECT position FROM events WHERE id = 'e-10000'");
  const killedAt = await killMidway(dir, ['project', 'replay-from', 'sets', String(start!.position), '--batch-size', '20'], 'sets', start!.position);
  expect(killedAt).toBeGreaterThan(start!.position);
  expect(lastCheckpoint(dir, 'sets')!.data.replayingUntil).toBe(head);
  importEvents(dir, 30_500, 100);
  expect(es(dir, ['project', 'run', 'sets']).status).toBe(0);
  const rows = query<{ position: number; times: number; replaying: number }>(dir, 'SELECT position, times, replaying FROM sets_seen');
  // Below the replay's start the flags are the rebuild's (replaying up to where the first run reached).
  const expectedFlag = (p: number) => ((p >= start!.position && p <= head) || p <= reached ? 1 : 0);
  expect(rows.filter((r) => r.replaying !== expectedFlag(r.position))).toEqual([]);
  expect(rows.filter((r) => r.times !== (r.position >= start!.position && r.position <= head ? 2 : 1))).toEqual([]);
}, 120_000);
