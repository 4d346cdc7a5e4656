import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/es.js', import.meta.url));

// `strict` inserts one row per event id under a primary key: applying an event twice would throw and fault it.
const STRICT = `export default {
  name: 'strict',
  setup(db) { db.exec('CREATE TABLE IF NOT EXISTS strict_applied (event_id TEXT PRIMARY KEY, position INTEGER, n INTEGER)'); },
  reset(db) { db.exec('DELETE FROM strict_applied'); },
  handlers: { Added(e, db) { db.prepare('INSERT INTO strict_applied VALUES (?, ?, ?)').run(e.id, e.position, e.data.n); } },
};`;
// \`idem\` is what replay-from expects of a projection: re-applying an event leaves the same row.
const IDEM = `export default {
  name: 'idem',
  setup(db) { db.exec('CREATE TABLE IF NOT EXISTS idem_totals (stream TEXT PRIMARY KEY, last INTEGER, seen INTEGER)'); },
  reset(db) { db.exec('DELETE FROM idem_totals'); },
  handlers: { '*'(e, db) {
    db.prepare('INSERT INTO idem_totals VALUES (?, ?, 1) ON CONFLICT (stream) DO UPDATE SET last = max(last, excluded.last), seen = seen + (excluded.last > last)').run(e.streamId, e.data.n);
  } },
};`;

const made: string[] = [];
// Also when an assertion fails: a failing run must not leave its stores behind in /tmp.
afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function workspace(events: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'es-kill-'));
  made.push(dir);
  mkdirSync(join(dir, 'projections'));
  writeFileSync(join(dir, 'projections', 'strict.mjs'), STRICT);
  writeFileSync(join(dir, 'projections', 'idem.mjs'), IDEM);
  const lines: string[] = [];
  for (let i = 0; i < events; i++) {
    lines.push(JSON.stringify({ id: `e-${i}`, streamId: `s-${i % 97}`, type: i % 5 === 4 ? 'Noted' : 'Added', data: { n: i } }));
  }
  writeFileSync(join(dir, 'events.ndjson'), `${lines.join('\n')}\n`);
  const imported = es(dir, ['import', 'events.ndjson']);
  expect(imported.status).toBe(0);
  return dir;
}

function es(cwd: string, args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
}

function readModel(dir: string) {
  const db = new Database(join(dir, '.es', 'events.db'), { readonly: true });
  try {
    return {
      strict: db.prepare('SELECT event_id, position, n FROM strict_applied ORDER BY position').all(),
      idem: db.prepare('SELECT stream, last, seen FROM idem_totals ORDER BY stream').all(),
      checkpointSizes: db.prepare(`SELECT stream_id, count(*) AS n FROM events WHERE stream_id LIKE '$checkpoint-%' GROUP BY stream_id`).all() as {
        stream_id: string;
        n: number;
      }[],
    };
  } finally {
    db.close();
  }
}

/** The projection's checkpoint position; exact here, since no es process runs between two kills. */
function checkpointOf(dir: string, name: string): number {
  const db = new Database(join(dir, '.es', 'events.db'), { readonly: true });
  try {
    const row = db.prepare(`SELECT data FROM events WHERE stream_id = ? ORDER BY version DESC LIMIT 1`).get(`$checkpoint-${name}`) as
      { data: string } | undefined;
    return row ? (JSON.parse(row.data) as { position: number }).position : 0;
  } finally {
    db.close();
  }
}

/** A small seeded PRNG, so a failing sequence of kills can be replayed with ES_KILL_SEED. */
function random(seed: number) {
  let state = seed >>> 0;
  return (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
}

async function killAfter(cwd: string, args: string[], ms: number): Promise<void> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, ms))]);
  child.kill('SIGKILL');
  await exited;
}

describe('kill -9 at random instants', () => {
  it('loses nothing committed and applies nothing twice across run, rebuild and replay-from', async () => {
    const events = 40_000;
    const reference = workspace(events);
    expect(es(reference, ['project', 'run']).status).toBe(0);
    const expected = readModel(reference);
    expect(expected.strict).toHaveLength(events - events / 5);

    const seed = Number(process.env.ES_KILL_SEED ?? Date.now() % 1_000_000);
    const next = random(seed);
    const dir = workspace(events);
    const deadline = Date.now() + 40_000;
    const commands: string[][] = [];
    for (let i = 0; i < 14 && Date.now() < deadline; i++) {
      const pick = next();
      const args =
        pick < 0.4
          ? ['project', 'run', '--batch-size', String(1 + Math.floor(next() * 2000))]
          : pick < 0.7
            ? ['project', 'rebuild', 'strict', 'idem', '--wait', '5s']
            : // A replay past the checkpoint would skip events by design; replay only what was reached.
              ['project', 'replay-from', 'idem', String(1 + Math.floor(next() * (checkpointOf(dir, 'idem') + 1))), '--wait', '5s'];
      commands.push(args);
      await killAfter(dir, args, 40 + Math.floor(next() * 700));
    }
    const final = es(dir, ['project', 'run']);
    const replay = `ES_KILL_SEED=${seed}: ${commands.map((c) => c.join(' ')).join(' | ')}`;
    expect(final.stderr, replay).toBe('');
    expect(final.status, replay).toBe(0);
    const actual = readModel(dir);
    expect(actual.strict, replay).toEqual(expected.strict);
    expect(actual.idem, replay).toEqual(expected.idem);
    for (const stream of actual.checkpointSizes) expect(stream.n).toBeLessThanOrEqual(10);
    const status = JSON.parse(es(dir, ['project', 'status', '--json']).stdout) as { healthy: boolean };
    expect(status.healthy).toBe(true);
  }, 120_000);
});
