import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { describeEach, describeMysql, freshMysqlDatabase, targetKinds, type FreshTarget, type TargetKind } from '../support/backends.js';
import { freshPgStore, pgServerUrl } from '../support/pg.js';
import { freezableProxy } from '../support/freeze-proxy.js';
import { ES_BIN, baseEnv, checkpointEvents, cleanupTempDirs, es, esBackground, readAll, tempDir, writeFile } from './helpers.js';

const EVENTS = 600;
const drops: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const drop of drops.splice(0)) await drop().catch(() => {});
  cleanupTempDirs();
});

interface Workspace {
  dir: string;
  target: FreshTarget;
}

/**
 * A SQLite event store of EVENTS events (every fifth one `Noted`, the others `Added`) and two
 * projections whose read model is in a fresh target: `strict` (a primary key per event id, so a
 * second application is a fault) and `tally` (counts each event's applications). The files name a
 * target that must never be used: es.config.json's `projectionOptions.<name>.target` wins.
 */
async function workspace(kind: TargetKind, db?: string): Promise<Workspace> {
  const dir = tempDir('es-target-');
  const target = await kind.fresh(dir);
  drops.push(target.drop);
  writeFile(dir, 'projections/strict.mjs', kind.projection('strict', 'sqlite:never-used.db'));
  writeFile(dir, 'projections/tally.mjs', kind.projection('tally', 'sqlite:never-used.db'));
  writeFile(
    dir,
    'es.config.json',
    JSON.stringify({ ...(db ? { db } : {}), projectionOptions: { strict: { target: target.url }, tally: { target: target.url } } }),
  );
  const lines = Array.from({ length: EVENTS }, (_, i) =>
    JSON.stringify({ id: `e-${i}`, streamId: `s-${i % 37}`, type: i % 5 === 4 ? 'Noted' : 'Added', data: { n: i } }),
  );
  writeFile(dir, 'events.ndjson', `${lines.join('\n')}\n`);
  expect(es(dir, ['import', 'events.ndjson']).code).toBe(0);
  return { dir, target };
}

/** What an uninterrupted run leaves; `replayedFrom`: each replay-from of tally adds one to the events at or after it. */
function expected(dir: string, replayedFrom: number[] = []) {
  const events = readAll(dir);
  return {
    strict: events.filter((e) => e.type === 'Added').map((e) => ({ event_id: e.id, position: e.position, n: e.data.n as number })),
    tally: events
      .map((e) => ({ event_id: e.id, times: 1 + replayedFrom.filter((p) => e.position >= p).length }))
      .sort((a, b) => (a.event_id < b.event_id ? -1 : 1)),
  };
}

async function readModel(target: FreshTarget) {
  const strict = await target.query('SELECT event_id, position, n FROM strict_applied ORDER BY position');
  const tally = await target.query('SELECT event_id, times FROM tally');
  return {
    strict: strict.map((r) => ({ event_id: String(r.event_id), position: Number(r.position), n: Number(r.n) })),
    tally: tally.map((r) => ({ event_id: String(r.event_id), times: Number(r.times) })).sort((a, b) => (a.event_id < b.event_id ? -1 : 1)),
  };
}

function checkpointOf(dir: string, name: string): number {
  const last = checkpointEvents(dir, name).at(-1);
  return last ? (last.data.position as number) : 0;
}

function crash(dir: string, args: string[], at: string) {
  const r = es(dir, args, { env: { ES_TEST_CRASH_AT: at } });
  expect(r.signal, `${args.join(' ')} with ES_TEST_CRASH_AT=${at}: ${r.stderr}`).toBe('SIGKILL');
}

function runClean(dir: string, args = ['project', 'run', '--wait', '30s']) {
  const r = es(dir, args);
  expect(r.stderr, args.join(' ')).toBe('');
  expect(r.code, args.join(' ')).toBe(0);
  return r;
}

async function killAfter(cwd: string, args: string[], ms: number): Promise<void> {
  const child = spawn(process.execPath, [ES_BIN, ...args], { cwd, stdio: 'ignore', env: baseEnv() });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, ms))]);
  child.kill('SIGKILL');
  await exited;
}

/** A small seeded PRNG, so a failing sequence of kills can be replayed with ES_KILL_SEED. */
function random(seed: number) {
  let state = seed >>> 0;
  return (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
}

/** A kind's suite; one whose server is absent is skipped, saying why (see describeEach). */
function describeKind(kind: TargetKind, body: () => void): void {
  describeEach([kind])(`read model in another database: ${kind.name}`, () => body());
}

for (const kind of targetKinds(pgServerUrl)) {
  describeKind(kind, () => {
    it.each(['target-before-commit', 'target-committed', 'checkpoint-appended'])(
      'a crash at %s, in a run and in a rebuild: the next run ends with the read model of an uninterrupted one',
      async (step) => {
        const { dir, target } = await workspace(kind);
        crash(dir, ['project', 'run', '--batch-size', '100'], `${step}:3`);
        if (step === 'target-committed') {
          // The crash fell between the two commits: the target holds ids the checkpoint has not passed.
          const [row] = await target.query("SELECT MAX(position) AS p FROM es_handled WHERE projection = 'strict'");
          expect(Number(row?.p)).toBeGreaterThan(checkpointOf(dir, 'strict'));
        }
        runClean(dir);
        expect(await readModel(target)).toEqual(expected(dir));
        crash(dir, ['project', 'rebuild', 'strict', 'tally', '--batch-size', '100'], `${step}:2`);
        runClean(dir);
        expect(await readModel(target)).toEqual(expected(dir));
        expect(existsSync(join(dir, 'never-used.db'))).toBe(false);
      },
    );

    it('rebuild and replay-from killed between their two databases: the next run finishes them', async () => {
      const { dir, target } = await workspace(kind);
      runClean(dir);
      // Killed after the intent (checkpoint reset) and before the target was emptied, then after it.
      crash(dir, ['project', 'rebuild', 'strict', 'tally'], 'intent-recorded');
      expect(checkpointEvents(dir, 'strict').at(-1)?.data).toMatchObject({ position: 0, pending: 'reset' });
      runClean(dir);
      expect(await readModel(target)).toEqual(expected(dir));
      crash(dir, ['project', 'rebuild', 'strict'], 'target-reset');
      expect((await readModel(target)).strict).toEqual([]);
      runClean(dir);
      expect(await readModel(target)).toEqual(expected(dir));
      // A replay's intent: its ids at or after the position must be forgotten exactly once.
      const from = Math.floor(EVENTS / 3);
      crash(dir, ['project', 'replay-from', 'tally', String(from)], 'intent-recorded');
      runClean(dir);
      expect(await readModel(target)).toEqual(expected(dir, [from]));
      crash(dir, ['project', 'replay-from', 'tally', String(from + 50)], 'target-reset');
      runClean(dir);
      expect(await readModel(target)).toEqual(expected(dir, [from, from + 50]));
      // A replay over the strict projection re-applies events under its primary key: a fault, by design.
      const strictReplay = es(dir, ['project', 'replay-from', 'strict', String(EVENTS - 10)]);
      expect(strictReplay.code).toBe(1);
      expect(strictReplay.stderr).toMatch(/faulted at position/);
    });

    it('kill -9 at random instants across run, rebuild and replay-from', async () => {
      const { dir, target } = await workspace(kind);
      const seed = Number(process.env.ES_KILL_SEED ?? Date.now() % 1_000_000);
      const next = random(seed);
      const commands: string[] = [];
      for (let i = 0; i < 6; i++) {
        const args =
          next() < 0.5 ? ['project', 'run', '--batch-size', String(20 + Math.floor(next() * 200))] : ['project', 'rebuild', 'strict', 'tally', '--wait', '5s'];
        commands.push(args.join(' '));
        await killAfter(dir, args, 200 + Math.floor(next() * 900));
      }
      const story = `ES_KILL_SEED=${seed}: ${commands.join(' | ')}`;
      runClean(dir);
      expect(await readModel(target), story).toEqual(expected(dir));

      // replay-from again only until its intent is recorded; after that, runs finish it.
      const from = 1 + Math.floor(next() * EVENTS);
      let recorded = false;
      for (let i = 0; i < 4; i++) {
        const args = recorded ? ['project', 'run', '--wait', '5s'] : ['project', 'replay-from', 'tally', String(from), '--batch-size', '200', '--wait', '5s'];
        commands.push(args.join(' '));
        await killAfter(dir, args, 150 + Math.floor(next() * 700));
        recorded ||= checkpointEvents(dir, 'tally').some((e) => e.type === 'ReplayRequested' && e.data.from === from);
      }
      runClean(dir, recorded ? undefined : ['project', 'replay-from', 'tally', String(from)]);
      runClean(dir);
      expect(await readModel(target), `${story} | ${commands.slice(6).join(' | ')}`).toEqual(expected(dir, [from]));
    }, 120_000);

    it('es_handled dropped while the target is past the checkpoint: the run refuses (exit 3) rather than apply events twice; a rebuild mends it', async () => {
      const { dir, target } = await workspace(kind);
      crash(dir, ['project', 'run', 'tally', '--batch-size', '100'], 'target-committed:2');
      expect(Number((await target.query("SELECT MAX(position) AS p FROM es_handled WHERE projection = 'tally'"))[0]?.p)).toBeGreaterThan(
        checkpointOf(dir, 'tally'),
      );
      await target.query('DROP TABLE es_handled');
      const refused = es(dir, ['project', 'run', 'tally']);
      expect(refused.code).toBe(3);
      expect(refused.stderr).toMatch(/^es: tally: target .* past its checkpoint \(\d+\), but its table es_handled is missing, .*es project rebuild tally\n$/);
      expect((await target.query('SELECT MAX(times) AS t FROM tally'))[0]?.t).toBe(1);
      runClean(dir, ['project', 'rebuild', 'tally']);
      const tally = (await target.query('SELECT event_id, times FROM tally')).map((r) => ({ event_id: String(r.event_id), times: Number(r.times) }));
      expect(tally.sort((a, b) => (a.event_id < b.event_id ? -1 : 1))).toEqual(expected(dir).tally);
      // A first run on a target without es_handled (strict's tables are not there either) just creates it.
      runClean(dir, ['project', 'run', 'strict']);
      expect(await readModel(target)).toEqual(expected(dir));
    });

    it('prune-handled after downtime keeps the ids above the checkpoint that a redelivery needs', async () => {
      const { dir, target } = await workspace(kind);
      crash(dir, ['project', 'run', 'strict', 'tally', '--batch-size', '100'], 'target-committed:4');
      // As if the crash were weeks ago: every id recorded so far is far older than the window.
      await target.query("UPDATE es_handled SET handled_at = '2001-01-01 00:00:00'");
      const checkpoints = { strict: checkpointOf(dir, 'strict'), tally: checkpointOf(dir, 'tally') };
      const count = async (where: string) => Number((await target.query(`SELECT COUNT(*) AS n FROM es_handled WHERE ${where}`))[0]?.n);
      const atOrBelow = await count(
        `(projection = 'strict' AND position <= ${checkpoints.strict}) OR (projection = 'tally' AND position <= ${checkpoints.tally})`,
      );
      const above = await count(`(projection = 'strict' AND position > ${checkpoints.strict}) OR (projection = 'tally' AND position > ${checkpoints.tally})`);
      expect(above).toBeGreaterThan(0);
      const pruned = es(dir, ['project', 'prune-handled', '--older-than', '1d', '--json']);
      expect(pruned.code, pruned.stderr).toBe(0);
      const report = JSON.parse(pruned.stdout) as { projections: { name: string; removed: number; checkpoint: number }[] };
      expect(report.projections.map((p) => p.checkpoint)).toEqual([checkpoints.strict, checkpoints.tally]);
      expect(report.projections.reduce((n, p) => n + p.removed, 0)).toBe(atOrBelow);
      expect(await count('1 = 1')).toBe(above);
      // The redelivered batch is dropped: the strict projection does not fault, and nothing counts twice.
      runClean(dir);
      expect(await readModel(target)).toEqual(expected(dir));
      // The ids kept through the outage are now at or below the checkpoint, and old: they go; the
      // ones recorded by the last run are younger than the default 7d and stay.
      const again = es(dir, ['project', 'prune-handled']);
      expect(again.code).toBe(0);
      expect(again.stdout).toContain(`removed ${above} handled ids in all`);
      expect(await count('1 = 1')).toBe(EVENTS + (EVENTS * 4) / 5 - atOrBelow - above);
    });
  });
}

describe('targets: configuration, output and failures', () => {
  it('an unreachable target is exit 3 for its projection only; list and status show targets without the password', async () => {
    const dir = tempDir('es-target-');
    const kind = targetKinds(pgServerUrl)[0] as TargetKind;
    writeFile(dir, 'projections/strict.mjs', kind.projection('strict', 'postgres://es:s3cret-pw@127.0.0.1:1/none'));
    writeFile(dir, 'projections/tally.mjs', kind.projection('tally', 'sqlite:tally.db'));
    expect(es(dir, ['append', 'a-1', 'Added', '{"n":1}']).code).toBe(0);
    const run = es(dir, ['project', 'run']);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/^es: strict: target postgres:\/\/es:\*\*\*@127\.0\.0\.1:1\/none: cannot connect/m);
    expect(run.stdout).toMatch(/tally +0 → 1 +1 event .*up-to-date/);
    const list = es(dir, ['project', 'list']);
    expect(list.stdout).toContain('postgres://es:***@127.0.0.1:1/none');
    expect(list.stdout).toContain('sqlite:tally.db');
    const status = es(dir, ['project', 'status', '--json']);
    const rows = (JSON.parse(status.stdout) as { projections: { name: string; target?: string }[] }).projections;
    expect(rows.find((r) => r.name === 'strict')?.target).toBe('postgres://es:***@127.0.0.1:1/none');
    for (const r of [run, list, status]) expect(r.stdout + r.stderr).not.toContain('s3cret-pw');
    const prune = es(dir, ['project', 'prune-handled', '--json']);
    expect(prune.code).toBe(3);
    const pruned = JSON.parse(prune.stdout) as { projections: { name: string; removed: number; error: string | null }[] };
    expect(pruned.projections.find((p) => p.name === 'tally')).toMatchObject({ removed: 0, error: null });
    expect(pruned.projections.find((p) => p.name === 'strict')?.error).toMatch(/cannot connect/);
  });

  it('a set-based projection in PostgreSQL: a throwing batch is narrowed to its event; context.replaying after a rebuild', async () => {
    const dir = tempDir('es-target-');
    const target = await targetKinds(pgServerUrl)[1]!.fresh(dir);
    drops.push(target.drop);
    writeFile(
      dir,
      'projections/sums.mjs',
      `export default { name: 'sums', target: ${JSON.stringify(target.url)}, events: ['Added'],
  async setup(db) { await db.query('CREATE TABLE IF NOT EXISTS sums_rows (event_id text PRIMARY KEY, replaying boolean NOT NULL)'); },
  async reset(db) { await db.query('DELETE FROM sums_rows'); },
  async batch(events, db, context) {
    if (events.some((e) => e.data.boom)) throw new Error('boom');
    await db.query('INSERT INTO sums_rows SELECT unnest($1::text[]), $2', [events.map((e) => e.id), context.replaying]);
  } };\n`,
    );
    for (const data of ['{}', '{}', '{"boom":true}', '{}', '{}']) expect(es(dir, ['append', 's', 'Added', data]).code).toBe(0);
    const skip = es(dir, ['project', 'run', '--on-error', 'skip', '--json']);
    expect(skip.code, skip.stderr).toBe(0);
    expect(JSON.parse(skip.stdout).projections[0]).toMatchObject({ state: 'up-to-date', deadLettered: 1 });
    const letters = es(dir, ['read', '--stream', '$deadletter-sums', '--json']);
    expect(JSON.parse(letters.stdout.trim()).data.event.position).toBe(3);
    const rows = async () => (await target.query('SELECT replaying FROM sums_rows')).map((r) => r.replaying);
    expect(await rows()).toEqual([false, false, false, false]);
    const rebuilt = es(dir, ['project', 'rebuild', 'sums', '--on-error', 'skip']);
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    expect(await rows()).toEqual([true, true, true, true]);
  });

  it('an event store in PostgreSQL, the read model in a SQLite file: a crash between the commits drops the redelivery, counted as not processed', async () => {
    const store = freshPgStore();
    drops.push(store.drop);
    const { dir, target } = await workspace(targetKinds(pgServerUrl)[0] as TargetKind, store.url);
    crash(dir, ['project', 'run', 'strict', '--batch-size', '100'], 'target-committed:3');
    const checkpoint = checkpointOf(dir, 'strict');
    const [dupes] = await target.query(`SELECT COUNT(*) AS n FROM es_handled WHERE projection = 'strict' AND position > ${checkpoint}`);
    expect(Number(dupes?.n)).toBe(100);
    const left = expected(dir).strict.filter((e) => e.position > checkpoint).length;
    const again = es(dir, ['project', 'run', '--json']);
    expect(again.code, again.stderr).toBe(0);
    const rows = JSON.parse(again.stdout).projections as { name: string; processed: number }[];
    expect(rows.find((r) => r.name === 'strict')?.processed).toBe(left - 100);
    expect(await readModel(target)).toEqual(expected(dir));
    crash(dir, ['project', 'rebuild', 'strict', 'tally'], 'intent-recorded');
    runClean(dir);
    expect(await readModel(target)).toEqual(expected(dir));
  });

  it('a handler fault in a target: stop keeps the batch before it; skip dead-letters it', async () => {
    const dir = tempDir('es-target-');
    writeFile(
      dir,
      'projections/boom.mjs',
      `export default { name: 'boom', target: 'sqlite:boom.db',
  setup(db) { db.exec('CREATE TABLE IF NOT EXISTS rows (event_id TEXT PRIMARY KEY)'); },
  reset(db) { db.exec('DELETE FROM rows'); },
  handlers: { Added(e, db) { if (e.data.boom) throw new Error('boom'); db.prepare('INSERT INTO rows VALUES (?)').run(e.id); } } };\n`,
    );
    for (const data of ['{}', '{}', '{"boom":true}', '{}']) expect(es(dir, ['append', 's', 'Added', data]).code).toBe(0);
    const stop = es(dir, ['project', 'run', '--json']);
    expect(stop.code).toBe(1);
    expect(JSON.parse(stop.stdout).projections[0]).toMatchObject({ state: 'faulted', to: 2, processed: 2 });
    const skip = es(dir, ['project', 'run', '--on-error', 'skip', '--json']);
    expect(skip.code).toBe(0);
    expect(JSON.parse(skip.stdout).projections[0]).toMatchObject({ state: 'up-to-date', to: 4, deadLettered: 1 });
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(join(dir, 'boom.db'), { readonly: true });
    expect(db.prepare('SELECT COUNT(*) AS n FROM rows').get()).toEqual({ n: 3 });
    expect(db.prepare("SELECT COUNT(*) AS n FROM es_handled WHERE projection = 'boom'").get()).toEqual({ n: 3 });
    db.close();
  });
});

describeMysql('event ids and a MariaDB target', () => {
  it('an id over 1,024 bytes is refused where it is written; one stored before the limit is a skippable fault, and status says faulted', async () => {
    const dir = tempDir('es-target-');
    const { url, drop } = await freshMysqlDatabase();
    drops.push(drop);
    writeFile(
      dir,
      'projections/ids.mjs',
      `export default { name: 'ids', target: ${JSON.stringify(url)}, events: ['Added'],
  async setup(db) { await db.query('CREATE TABLE IF NOT EXISTS ids_seen (position BIGINT PRIMARY KEY)'); },
  async reset(db) { await db.query('DELETE FROM ids_seen'); },
  handlers: { async Added(e, db) { await db.query('INSERT INTO ids_seen VALUES (?)', [e.position]); } } };\n`,
    );
    const line = (id: string) => JSON.stringify({ id, streamId: 's', type: 'Added' });
    writeFile(dir, 'long.ndjson', `${line('x'.repeat(1025))}\n`);
    const refused = es(dir, ['import', 'long.ndjson']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/line 1: .*1025 bytes long; an event id is at most 1024 bytes/);
    // 512 two-byte characters: exactly the limit, in UTF-8 bytes.
    writeFile(dir, 'events.ndjson', ['a', '\u00e9'.repeat(512), 'to-lengthen', 'c'].map(line).join('\n') + '\n');
    expect(es(dir, ['import', 'events.ndjson']).code).toBe(0);
    // A store written before es capped ids may hold a longer one.
    const store = new Database(join(dir, '.es/events.db'));
    store.prepare("UPDATE events SET id = ? WHERE id = 'to-lengthen'").run('y'.repeat(1500));
    store.close();
    const stop = es(dir, ['project', 'run', '--json']);
    expect(stop.stderr).not.toMatch(/unexpected/i);
    expect(stop.code).toBe(1);
    expect(JSON.parse(stop.stdout).projections[0]).toMatchObject({ state: 'faulted', to: 2, processed: 2 });
    const status = es(dir, ['project', 'status', '--json']);
    expect(status.code).toBe(1);
    expect(JSON.parse(status.stdout).projections[0]).toMatchObject({ state: 'faulted', error: { position: 3 } });
    expect(JSON.parse(status.stdout).projections[0].error.message).toMatch(/1500 bytes long; target .* at most 1024 bytes/);
    const skip = es(dir, ['project', 'run', '--on-error', 'skip', '--json']);
    expect(skip.code).toBe(0);
    expect(JSON.parse(skip.stdout).projections[0]).toMatchObject({ state: 'up-to-date', to: 4, deadLettered: 1 });
  });
});

/** Waits for a promise at most `ms`; undefined when it did not settle in time. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

async function until(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check().catch(() => false)) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

for (const kind of targetKinds(pgServerUrl).filter((k) => k.name !== 'sqlite')) {
  describeKind(kind, () => {
    it('a target that stops answering mid-run (a frozen proxy): retried, then exit 3 with one line, and the lease released', { timeout: 180_000 }, async () => {
      const { dir, target } = await workspace(kind);
      const direct = new URL(target.url);
      const proxy = await freezableProxy(direct.hostname, Number(direct.port || (kind.name === 'postgres' ? 5432 : 3306)));
      drops.push(() => proxy.close());
      const proxied = new URL(target.url);
      proxied.host = `127.0.0.1:${proxy.port}`;
      writeFile(dir, 'es.config.json', JSON.stringify({ projectionOptions: { strict: { target: proxied.toString() } } }));
      const applied = async () => Number((await target.query('SELECT COUNT(*) AS n FROM strict_applied'))[0]?.n);
      // Small batches, so that the run is still going when the link freezes.
      const run = esBackground(dir, ['project', 'run', 'strict', '--batch-size', '2']);
      expect(await until(async () => (await applied()) >= 10, 60_000)).toBe(true);
      proxy.freeze();
      const frozenAt = Date.now();
      const exit = await within(run.exited, 120_000);
      const seconds = (Date.now() - frozenAt) / 1000;
      if (!exit) run.child.kill('SIGKILL');
      expect(exit, `still running ${seconds}s after the freeze: ${run.output().stderr}`).toEqual({ code: 3, signal: null });
      process.stderr.write(`${kind.name}: frozen target, exit 3 after ${seconds}s\n`);
      expect(await applied()).toBeLessThan(480);
      // The statement's 30 s without an answer, then about 15 s of retries.
      expect(seconds).toBeGreaterThan(30);
      expect(seconds).toBeLessThan(75);
      const lines = run.output().stderr.trim().split('\n');
      expect(lines, run.output().stderr).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^es: strict: target ${kind.name === 'postgres' ? 'postgres' : 'mysql'}://.*127\\.0\\.0\\.1:${proxy.port}`));
      // The lease went with the run: once the link is back, the next run is not refused (75).
      proxy.thaw();
      const next = esBackground(dir, ['project', 'run', 'strict']);
      const after = await within(next.exited, 60_000);
      expect(after, next.output().stderr).toEqual({ code: 0, signal: null });
      expect(await applied()).toBe(480);
    });
  });
}
