import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  appendMany,
  appendOne,
  checkpointEvents,
  cleanupTempDirs,
  es,
  esBackground,
  readAll,
  seenPositions,
  tempDir,
  waitFor,
  writeFile,
  writeRecorder,
} from './helpers.js';

const running: ReturnType<typeof esBackground>[] = [];
afterEach(() => {
  for (const b of running.splice(0)) if (b.child.exitCode === null && b.child.signalCode === null) b.child.kill('SIGKILL');
});
afterAll(cleanupTempDirs);

const DB = (dir: string) => join(dir, '.es', 'events.db');

function background(dir: string, args: string[]) {
  const b = esBackground(dir, args);
  running.push(b);
  return b;
}

async function exitWithin(b: ReturnType<typeof esBackground>, ms: number) {
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), ms));
  return Promise.race([b.exited, timeout]);
}

describe('signals', () => {
  it('project run --follow applies an event appended while it runs, and exits 0 on SIGTERM', async () => {
    const dir = tempDir();
    writeRecorder(join(dir, 'projections'), 'live');
    const initial = appendMany(dir, 'feed', 'Posted', 3);

    const follower = background(dir, ['project', 'run', '--follow']);
    const caughtUp = await waitFor(() => seenPositions(DB(dir), 'live').length === 3, 10_000);
    expect(caughtUp, JSON.stringify(follower.output())).toBe(true);

    const added = appendOne(dir, 'feed', 'Posted', { late: true });
    const applied = await waitFor(() => seenPositions(DB(dir), 'live').includes(added), 10_000);
    expect(applied, JSON.stringify(follower.output())).toBe(true);
    expect(follower.child.exitCode).toBeNull();

    follower.child.kill('SIGTERM');
    const end = await exitWithin(follower, 10_000);
    expect(end, JSON.stringify(follower.output())).toEqual({ code: 0, signal: null });
    expect(seenPositions(DB(dir), 'live')).toEqual([...initial, added]);
    const checkpoints = checkpointEvents(dir, 'live');
    expect(checkpoints[checkpoints.length - 1]?.data.position).toBe(added);
    // and the store says so too
    const status = es(dir, ['project', 'status', '--json']);
    expect(status.code).toBe(0);
  });

  it('project run --follow exits 0 on SIGINT too', async () => {
    const dir = tempDir();
    writeRecorder(join(dir, 'projections'), 'live');
    appendOne(dir, 'feed', 'Posted');
    const follower = background(dir, ['project', 'run', '--follow']);
    expect(await waitFor(() => seenPositions(DB(dir), 'live').length === 1, 10_000)).toBe(true);
    follower.child.kill('SIGINT');
    expect(await exitWithin(follower, 10_000)).toEqual({ code: 0, signal: null });
  });

  it('a run stopped by SIGTERM (143) or SIGINT (130) keeps its work; the next run finishes it exactly once', async () => {
    const dir = tempDir();
    // a slow handler: about 10 ms per event, one event per batch
    writeFile(
      dir,
      'projections/slow.mjs',
      `export default {
  setup(db) { db.exec('CREATE TABLE IF NOT EXISTS seen_slow (n INTEGER PRIMARY KEY AUTOINCREMENT, position INTEGER NOT NULL, stream_id TEXT, type TEXT)'); },
  reset(db) { db.exec('DELETE FROM seen_slow'); },
  handlers: {
    '*'(event, db) {
      const until = Date.now() + 10;
      while (Date.now() < until) { /* busy */ }
      db.prepare('INSERT INTO seen_slow (position, stream_id, type) VALUES (?, ?, ?)').run(event.position, event.streamId, event.type);
    },
  },
};
`,
    );
    appendMany(dir, 'work', 'Item', 200);
    const all = readAll(dir).map((e) => e.position);

    const stops: [NodeJS.Signals, number][] = [
      ['SIGTERM', 143],
      ['SIGINT', 130],
    ];
    for (const [signal, code] of stops) {
      const before = seenPositions(DB(dir), 'slow').length;
      const run = background(dir, ['project', 'run', '--batch-size', '1']);
      expect(await waitFor(() => seenPositions(DB(dir), 'slow').length >= before + 5, 10_000)).toBe(true);
      run.child.kill(signal);
      const end = await exitWithin(run, 10_000);
      expect(end, `${signal}: ${JSON.stringify(run.output())}`).toEqual({ code, signal: null });

      const seen = seenPositions(DB(dir), 'slow');
      expect(seen.length, signal).toBeLessThan(all.length);
      expect(seen, signal).toEqual(all.slice(0, seen.length));
      const checkpoints = checkpointEvents(dir, 'slow');
      expect(checkpoints[checkpoints.length - 1]?.data.position, signal).toBe(seen[seen.length - 1]);
    }

    const finish = es(dir, ['project', 'run']);
    expect(finish.code).toBe(0);
    expect(seenPositions(DB(dir), 'slow')).toEqual(all);
  });
});
