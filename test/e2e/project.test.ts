import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ISO_UTC,
  appendMany,
  appendOne,
  checkpointEvents,
  cleanupTempDirs,
  es,
  parseJson,
  readAll,
  seenPositions,
  tempDir,
  waitFor,
  writeFile,
  writeRecorder,
} from './helpers.js';

afterAll(cleanupTempDirs);

const DB = (dir: string) => join(dir, '.es', 'events.db');
const RUN_KEYS = ['durationMs', 'from', 'name', 'processed', 'state', 'to'];
const STATUS_KEYS = ['error', 'lag', 'lagSeconds', 'lastCheckpointAt', 'name', 'owner', 'position', 'shadow', 'state', 'version'];

function runJson(dir: string, args: string[] = []) {
  const r = es(dir, ['project', 'run', '--json', ...args]);
  return { ...r, json: r.stdout.trim() ? parseJson(r.stdout) : undefined };
}

function statusJson(dir: string, args: string[] = []) {
  const r = es(dir, ['project', 'status', '--json', ...args]);
  return { ...r, json: parseJson(r.stdout) };
}

function lastCheckpoint(dir: string, name: string) {
  const events = checkpointEvents(dir, name);
  return events[events.length - 1];
}

describe('es project run', () => {
  it('processes to the head, prints the documented JSON, and then only new events', () => {
    const dir = tempDir();
    const projections = join(dir, 'projections');
    writeRecorder(projections, 'everything');
    writeRecorder(projections, 'only-b', { types: ['B'] });
    const first = appendMany(dir, 'stream-1', 'A', 5);
    const b = appendOne(dir, 'stream-2', 'B', { n: 1 });
    const head = b;

    const run = runJson(dir);
    expect(run.code).toBe(0);
    expect(Object.keys(run.json)).toEqual(['projections']);
    const rows = run.json.projections;
    expect(rows.map((p: any) => p.name).sort()).toEqual(['everything', 'only-b']);
    for (const row of rows) {
      for (const key of RUN_KEYS) expect(row, key).toHaveProperty(key);
      expect(typeof row.durationMs).toBe('number');
      expect(row.state).toBe('up-to-date');
      expect(row.from).toBe(0);
      expect(row.to).toBe(head);
    }
    const everything = rows.find((p: any) => p.name === 'everything');
    const onlyB = rows.find((p: any) => p.name === 'only-b');
    expect(everything.processed).toBe(6);
    expect(onlyB.processed).toBe(1);
    expect(seenPositions(DB(dir), 'everything')).toEqual([...first, b]);
    expect(seenPositions(DB(dir), 'only-b')).toEqual([b]);

    // checkpoints carry the position reached and the projection version
    const cp = lastCheckpoint(dir, 'everything');
    expect(cp?.type).toBe('Checkpoint');
    expect(cp?.data).toMatchObject({ position: head, version: 1 });

    // nothing new: processes nothing
    const idle = runJson(dir);
    expect(idle.code).toBe(0);
    for (const row of idle.json.projections) {
      expect(row.processed).toBe(0);
      expect(row.from).toBe(head);
      expect(row.to).toBe(head);
    }

    // two new events: only they are processed, once
    const more = appendMany(dir, 'stream-3', 'A', 2);
    const incremental = runJson(dir, ['everything']);
    expect(incremental.code).toBe(0);
    expect(incremental.json.projections).toHaveLength(1);
    expect(incremental.json.projections[0]).toMatchObject({
      name: 'everything',
      from: head,
      to: more[1],
      processed: 2,
      state: 'up-to-date',
    });
    expect(seenPositions(DB(dir), 'everything')).toEqual([...first, b, ...more]);
    expect(seenPositions(DB(dir), 'only-b')).toEqual([b]);

    // the plain output names each projection
    appendOne(dir, 'stream-4', 'B');
    const plain = es(dir, ['project', 'run']);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain('everything');
    expect(plain.stdout).toContain('only-b');
    expect(seenPositions(DB(dir), 'only-b')).toHaveLength(2);
  });

  it('keeps at most 10 checkpoint events with --batch-size 1, and a sparse projection reaches the head', () => {
    const dir = tempDir();
    const projections = join(dir, 'projections');
    writeRecorder(projections, 'dense');
    writeRecorder(projections, 'sparse', { types: ['Rare'] });
    appendMany(dir, 'noise', 'Common', 25);
    appendOne(dir, 'rare', 'Rare');
    appendMany(dir, 'noise', 'Common', 10);

    for (let round = 0; round < 4; round++) {
      const r = runJson(dir, ['--batch-size', '1']);
      expect(r.code, r.stderr).toBe(0);
      appendMany(dir, 'noise', 'Common', 3);
    }
    const final = runJson(dir, ['--batch-size', '1']);
    expect(final.code).toBe(0);

    const events = readAll(dir);
    const head = events[events.length - 1]!.position;
    for (const name of ['dense', 'sparse']) {
      const checkpoints = checkpointEvents(dir, name);
      expect(checkpoints.length, name).toBeGreaterThan(0);
      expect(checkpoints.length, name).toBeLessThanOrEqual(10);
      for (const event of checkpoints) {
        expect(event.streamId).toBe(`$checkpoint-${name}`);
        expect(typeof event.data.position).toBe('number');
        expect(event.data.version).toBe(1);
      }
      const last = checkpoints[checkpoints.length - 1]!;
      expect(last.type).toBe('Checkpoint');
      expect(last.data.position, name).toBe(head);
      const versions = checkpoints.map((e) => e.version);
      expect(versions).toEqual([...versions].sort((a, b) => a - b));
    }
    expect(seenPositions(DB(dir), 'dense')).toEqual(events.map((e) => e.position));
    expect(seenPositions(DB(dir), 'sparse')).toHaveLength(1);

    const status = statusJson(dir);
    expect(status.code).toBe(0);
    for (const row of status.json.projections) {
      expect(row.state).toBe('up-to-date');
      expect(row.position).toBe(head);
      expect(row.lag).toBe(0);
    }

    // a position is never reused, even after the checkpoint stream was trimmed
    const all = es(dir, ['read', '--include-system', '--json'], { stdoutToFile: true });
    const maxSoFar = Math.max(
      ...all.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).position),
    );
    const next = appendOne(dir, 'noise', 'Common');
    expect(next).toBeGreaterThan(maxSoFar);
  });
});

describe('es project status', () => {
  it('reports never-run, up-to-date and behind with the documented JSON, and the thresholds', async () => {
    const dir = tempDir();
    const projections = join(dir, 'projections');
    writeRecorder(projections, 'orders', { version: 2 });
    writeRecorder(projections, 'quiet', { types: ['NeverHappens'] });
    appendMany(dir, 'o', 'Placed', 3);

    const never = statusJson(dir);
    expect(never.code).toBe(1);
    expect(Object.keys(never.json).sort()).toEqual(['head', 'healthy', 'projections']);
    expect(never.json.healthy).toBe(false);
    const head = never.json.head;
    expect(typeof head).toBe('number');
    const orders = never.json.projections.find((p: any) => p.name === 'orders');
    expect(Object.keys(orders).sort()).toEqual(STATUS_KEYS);
    expect(orders.shadow).toBeNull();
    expect(orders).toMatchObject({
      name: 'orders',
      version: 2,
      position: 0,
      lag: 3,
      state: 'never-run',
      lastCheckpointAt: null,
      error: null,
    });
    expect(orders.lagSeconds).toBeGreaterThanOrEqual(0);
    // a never-run projection with nothing to do is not unhealthy on its own
    const quiet = statusJson(dir, ['quiet']);
    expect(quiet.json.projections).toHaveLength(1);
    expect(quiet.json.projections[0]).toMatchObject({ name: 'quiet', lag: 0, state: 'never-run' });
    expect(quiet.json.healthy).toBe(true);
    expect(quiet.code).toBe(0);

    expect(es(dir, ['project', 'run']).code).toBe(0);
    const upToDate = statusJson(dir);
    expect(upToDate.code).toBe(0);
    expect(upToDate.json.healthy).toBe(true);
    expect(upToDate.json.head).toBe(head);
    for (const row of upToDate.json.projections) {
      expect(row).toMatchObject({ position: head, lag: 0, lagSeconds: 0, state: 'up-to-date', error: null });
      expect(row.lastCheckpointAt).toMatch(ISO_UTC);
    }
    // the head ignores the checkpoint events written by the run
    expect(upToDate.json.head).toBe(head);

    // behind by 3: healthy without thresholds, unhealthy above --max-lag
    appendMany(dir, 'o', 'Placed', 3);
    const behind = statusJson(dir, ['orders']);
    expect(behind.code).toBe(0);
    expect(behind.json.projections[0]).toMatchObject({ state: 'behind', lag: 3, position: head });
    expect(behind.json.head).toBeGreaterThan(head);
    expect(statusJson(dir, ['orders', '--max-lag', '3']).code).toBe(0);
    const tooFar = statusJson(dir, ['orders', '--max-lag', '2']);
    expect(tooFar.code).toBe(1);
    expect(tooFar.json.healthy).toBe(false);

    // --max-age: once status reports the oldest pending event over a second old (15 s at most)
    let aged: ReturnType<typeof statusJson> | undefined;
    const reported = await waitFor(() => (aged = statusJson(dir, ['orders', '--max-age', '1s'])).json.projections[0].lagSeconds > 1, 15_000, 100);
    expect(reported, `status never said lagSeconds > 1: ${aged?.stdout}`).toBe(true);
    expect(aged?.code).toBe(1);
    expect(aged?.json.healthy).toBe(false);
    for (const ok of ['5m', '2h', '1d', '30s']) expect(statusJson(dir, ['orders', '--max-age', ok]).code, ok).toBe(0);
    for (const bad of ['soon', '5', '-1s', '5 minutes', '1w']) {
      const r = es(dir, ['project', 'status', '--max-age', bad]);
      expect(r.code, bad).toBe(2);
    }

    // the plain table has one row per projection and says unhealthy
    const table = es(dir, ['project', 'status', '--max-lag', '0']);
    expect(table.code).toBe(1);
    expect(table.stdout).toContain('orders');
    expect(table.stdout).toContain('quiet');
    expect(table.stdout).toMatch(/unhealthy/);
  });
});

describe('faults, versions, replays and rebuilds', () => {
  it('a throwing handler faults the run; fixing the file lets the next run get past it', () => {
    const dir = tempDir();
    const projections = join(dir, 'projections');
    writeRecorder(projections, 'fragile', { failOnBoom: true });
    writeRecorder(projections, 'sturdy');
    const good = appendMany(dir, 'acc', 'Deposited', 3);
    const bad = appendOne(dir, 'acc', 'Deposited', { boom: true });
    const after = appendMany(dir, 'acc', 'Deposited', 2);
    const events = readAll(dir);
    const badEvent = events.find((e) => e.position === bad)!;

    const run = runJson(dir);
    expect(run.code).toBe(1);
    const fragileRun = run.json.projections.find((p: any) => p.name === 'fragile');
    const sturdyRun = run.json.projections.find((p: any) => p.name === 'sturdy');
    expect(fragileRun.state).toBe('faulted');
    expect(fragileRun.processed).toBe(3);
    expect(fragileRun.to).toBe(good[2]);
    // one fault does not stop the others
    expect(sturdyRun.state).toBe('up-to-date');
    expect(seenPositions(DB(dir), 'sturdy')).toEqual(events.map((e) => e.position));
    // the events before the failing one are applied, the failing one and later are not
    expect(seenPositions(DB(dir), 'fragile')).toEqual(good);
    expect(lastCheckpoint(dir, 'fragile')?.data.position).toBe(good[2]);

    const status = statusJson(dir, ['fragile']);
    expect(status.code).toBe(1);
    const row = status.json.projections[0];
    expect(row.state).toBe('faulted');
    expect(row.position).toBe(good[2]);
    expect(row.lag).toBe(3);
    expect(row.error).toEqual({ message: expect.stringContaining('boom'), position: bad, eventId: badEvent.id, type: 'Deposited' });

    // running again without a fix faults again at the same event, applying nothing twice
    const again = es(dir, ['project', 'run', 'fragile']);
    expect(again.code).toBe(1);
    expect(again.stdout + again.stderr).toMatch(/boom/);
    expect(seenPositions(DB(dir), 'fragile')).toEqual(good);

    // fix the projection file: the next run gets past the event
    writeRecorder(projections, 'fragile');
    const fixed = runJson(dir, ['fragile']);
    expect(fixed.code).toBe(0);
    expect(fixed.json.projections[0]).toMatchObject({ state: 'up-to-date', processed: 3, from: good[2], to: after[1] });
    expect(seenPositions(DB(dir), 'fragile')).toEqual(events.map((e) => e.position));
    const healthy = statusJson(dir);
    expect(healthy.code).toBe(0);
    expect(healthy.json.projections.every((p: any) => p.state === 'up-to-date' && p.error === null)).toBe(true);
  });

  it('a version change makes the projection stale until rebuilt; rebuild resets the read model', () => {
    const dir = tempDir();
    const projections = join(dir, 'projections');
    writeRecorder(projections, 'totals', { version: 1 });
    const positions = appendMany(dir, 't', 'Added', 4);
    expect(es(dir, ['project', 'run']).code).toBe(0);
    expect(seenPositions(DB(dir), 'totals')).toEqual(positions);

    writeRecorder(projections, 'totals', { version: 2 });
    const stale = statusJson(dir);
    expect(stale.code).toBe(1);
    expect(stale.json.projections[0]).toMatchObject({ name: 'totals', version: 2, state: 'stale-version' });
    expect(stale.json.healthy).toBe(false);

    const newer = appendOne(dir, 't', 'Added');
    const run = es(dir, ['project', 'run']);
    expect(run.code).toBe(1);
    expect(run.stdout + run.stderr).toMatch(/rebuild/);
    expect(run.stdout + run.stderr).toContain('totals');
    // not run: nothing new applied
    expect(seenPositions(DB(dir), 'totals')).toEqual(positions);

    const runJsonOut = runJson(dir);
    expect(runJsonOut.code).toBe(1);
    expect(runJsonOut.json.projections[0].state).toBe('stale-version');

    const rebuild = es(dir, ['project', 'rebuild', 'totals', '--json']);
    expect(rebuild.code).toBe(0);
    const rebuilt = parseJson(rebuild.stdout).projections[0];
    expect(rebuilt).toMatchObject({ name: 'totals', from: 0, to: newer, processed: 5, state: 'up-to-date' });
    for (const key of RUN_KEYS) expect(rebuilt).toHaveProperty(key);
    // the read model was emptied first: each event exactly once
    expect(seenPositions(DB(dir), 'totals')).toEqual([...positions, newer]);
    const cp = lastCheckpoint(dir, 'totals');
    expect(cp?.data).toMatchObject({ position: newer, version: 2 });
    const status = statusJson(dir);
    expect(status.code).toBe(0);
    expect(status.json.projections[0]).toMatchObject({ state: 'up-to-date', version: 2, lag: 0 });
  });

  it('a stale-version projection that also faulted shows stale-version; a rebuild clears both', () => {
    const dir = tempDir();
    const projections = join(dir, 'projections');
    writeRecorder(projections, 'mixed', { failOnBoom: true });
    appendOne(dir, 'm', 'E');
    appendOne(dir, 'm', 'E', { boom: true });
    expect(es(dir, ['project', 'run']).code).toBe(1);
    expect(statusJson(dir).json.projections[0].state).toBe('faulted');
    writeRecorder(projections, 'mixed', { version: 2 });
    expect(statusJson(dir).json.projections[0].state).toBe('stale-version');
    expect(es(dir, ['project', 'rebuild', 'mixed']).code).toBe(0);
    const after = statusJson(dir);
    expect(after.code).toBe(0);
    expect(after.json.projections[0]).toMatchObject({ state: 'up-to-date', error: null });
  });

  it('run --json on a stale-version projection still tells (on stderr) to rebuild it', () => {
    const dir = tempDir();
    const projections = join(dir, 'projections');
    writeRecorder(projections, 'stale', { version: 1 });
    appendOne(dir, 's', 'E');
    expect(es(dir, ['project', 'run']).code).toBe(0);
    writeRecorder(projections, 'stale', { version: 2 });
    const r = runJson(dir);
    expect(r.code).toBe(1);
    expect(r.json.projections[0].state).toBe('stale-version');
    expect(r.stderr).toMatch(/rebuild/);
  });

  it('a setup or reset that throws is reported with its error, exit 1, and the other projections still run', () => {
    const dir = tempDir();
    const projections = join(dir, 'projections');
    writeRecorder(projections, 'healthy');
    writeFile(
      dir,
      'projections/brittle.mjs',
      `export default {
  setup() { if (process.env.BREAK_SETUP) throw new Error('no tables today'); },
  reset() { throw new Error('cannot empty this'); },
  handlers: { '*'() {} },
};
`,
    );
    const positions = appendMany(dir, 'x', 'A', 3);
    const run = es(dir, ['project', 'run', '--json'], { env: { BREAK_SETUP: '1' } });
    expect(run.code).toBe(1);
    expect(run.stdout + run.stderr).toContain('no tables today');
    const rows = parseJson(run.stdout).projections;
    expect(rows.find((p: any) => p.name === 'healthy')).toMatchObject({ state: 'up-to-date', processed: 3 });
    expect(rows.find((p: any) => p.name === 'brittle').state).not.toBe('up-to-date');
    expect(seenPositions(DB(dir), 'healthy')).toEqual(positions);

    const rebuild = es(dir, ['project', 'rebuild', '--all']);
    expect(rebuild.code).toBe(1);
    expect(rebuild.stdout + rebuild.stderr).toContain('cannot empty this');
    // the other projection was rebuilt: its read model holds each event once
    expect(seenPositions(DB(dir), 'healthy')).toEqual(positions);
  });

  it('replay-from moves the checkpoint to just before a position and keeps the read model', () => {
    const dir = tempDir();
    const projections = join(dir, 'projections');
    writeRecorder(projections, 'replayed');
    const early = appendMany(dir, 'r', 'E', 10);
    expect(es(dir, ['project', 'run']).code).toBe(0);
    // the checkpoint event takes a position too: the next user events leave a hole
    const late = appendMany(dir, 'r', 'E', 5);
    expect(late[0]! - early[9]!).toBeGreaterThan(1);
    expect(es(dir, ['project', 'run']).code).toBe(0);
    const before = seenPositions(DB(dir), 'replayed');
    expect(before).toEqual([...early, ...late]);

    // a position in the hole: the next event processed is the first at or after it
    const hole = early[9]! + 1;
    const r = es(dir, ['project', 'replay-from', 'replayed', String(hole), '--json']);
    expect(r.code).toBe(0);
    const row = parseJson(r.stdout).projections[0];
    for (const key of RUN_KEYS) expect(row).toHaveProperty(key);
    expect(row).toMatchObject({ name: 'replayed', processed: 5, to: late[4], state: 'up-to-date' });
    expect(seenPositions(DB(dir), 'replayed')).toEqual([...before, ...late]);

    // an exact position
    const r2 = es(dir, ['project', 'replay-from', 'replayed', String(early[6])]);
    expect(r2.code).toBe(0);
    expect(seenPositions(DB(dir), 'replayed')).toEqual([...before, ...late, ...early.slice(6), ...late]);

    // past the head: usage error, and the checkpoint does not move
    const cpBefore = checkpointEvents(dir, 'replayed');
    const head = late[4]!;
    for (const past of [head + 1, head + 1000]) {
      const bad = es(dir, ['project', 'replay-from', 'replayed', String(past)]);
      expect(bad.code, String(past)).toBe(2);
      expect(bad.stderr.length).toBeGreaterThan(0);
    }
    expect(checkpointEvents(dir, 'replayed')).toEqual(cpBefore);
    expect(seenPositions(DB(dir), 'replayed')).toHaveLength(before.length + 5 + 4 + 5);
    const status = statusJson(dir);
    expect(status.code).toBe(0);
    expect(status.json.projections[0]).toMatchObject({ position: head, state: 'up-to-date' });
  });

  it('rebuild needs names or --all; --all rebuilds every projection from the first event', () => {
    const dir = tempDir();
    const projections = join(dir, 'projections');
    writeRecorder(projections, 'one');
    writeRecorder(projections, 'two', { types: ['B'] });
    const a = appendMany(dir, 'x', 'A', 3);
    const b = appendOne(dir, 'y', 'B');
    expect(es(dir, ['project', 'run']).code).toBe(0);
    expect(es(dir, ['project', 'run']).code).toBe(0);

    const none = es(dir, ['project', 'rebuild']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--all|name/);

    const r = es(dir, ['project', 'rebuild', '--all', '--json']);
    expect(r.code).toBe(0);
    const rows = parseJson(r.stdout).projections;
    expect(rows.map((p: any) => p.name).sort()).toEqual(['one', 'two']);
    expect(rows.find((p: any) => p.name === 'one')).toMatchObject({ from: 0, to: b, processed: 4, state: 'up-to-date' });
    expect(rows.find((p: any) => p.name === 'two')).toMatchObject({ from: 0, to: b, processed: 1, state: 'up-to-date' });
    expect(seenPositions(DB(dir), 'one')).toEqual([...a, b]);
    expect(seenPositions(DB(dir), 'two')).toEqual([b]);
    expect(statusJson(dir).code).toBe(0);
  });
});
