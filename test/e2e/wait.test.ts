import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { appendMany, appendOne, cleanupTempDirs, es, esBackground, parseJson, seenPositions, tempDir, waitFor, writeRecorder } from './helpers.js';

afterAll(cleanupTempDirs);

const DB = (dir: string) => join(dir, '.es', 'events.db');
type Background = ReturnType<typeof esBackground>;
const started: Background[] = [];

/** A background `es` whose end we await; killed after the test if it is still there. */
function background(dir: string, args: string[]): Background {
  const b = esBackground(dir, args);
  started.push(b);
  return b;
}

afterEach(async () => {
  for (const b of started.splice(0)) {
    if (b.child.exitCode === null && b.child.signalCode === null) {
      b.child.kill('SIGKILL');
      await b.exited;
    }
  }
});

/** Resolves with the exit after at most ms, or with 'running'. */
async function exitWithin(b: Background, ms: number) {
  return Promise.race([b.exited, new Promise<'running'>((resolve) => setTimeout(() => resolve('running'), ms))]);
}

function workspace(): { dir: string; projections: string } {
  const dir = tempDir('es-wait-');
  return { dir, projections: join(dir, 'projections') };
}

describe('es project wait', () => {
  it('blocks until a background `run --follow` has caught up with the new events, then exits 0', async () => {
    const { dir, projections } = workspace();
    writeRecorder(projections, 'everything');
    writeRecorder(projections, 'only-b', { types: ['B'] });
    appendMany(dir, 's-1', 'A', 3);
    expect(es(dir, ['project', 'run']).code).toBe(0);
    const fresh = [...appendMany(dir, 's-1', 'A', 20), appendOne(dir, 's-2', 'B', { n: 1 })];
    const head = fresh[fresh.length - 1] as number;

    const waiting = background(dir, ['project', 'wait', '--timeout', '30s', '--json']);
    // Nothing runs yet: once it says it waits, it must go on waiting (700 ms seen), not answer from a
    // stale look.
    expect(await waitFor(() => waiting.output().stderr.includes(`to reach position ${head}`), 10_000), JSON.stringify(waiting.output())).toBe(true);
    expect(await exitWithin(waiting, 700)).toBe('running');
    const follower = background(dir, ['project', 'run', '--follow']);
    const exit = await waiting.exited;
    expect(exit.code, waiting.output().stderr).toBe(0);
    // Read-your-writes: once wait says so, the read models hold every event up to the head.
    expect(seenPositions(DB(dir), 'everything').slice(-fresh.length)).toEqual(fresh);
    expect(seenPositions(DB(dir), 'only-b')).toEqual([head]);
    const json = parseJson(waiting.output().stdout);
    expect(json).toMatchObject({ target: head, outcome: 'reached' });
    expect(json.projections.map((p: any) => [p.name, p.reached, p.failure])).toEqual([
      ['everything', true, null],
      ['only-b', true, null],
    ]);
    expect(waiting.output().stderr).toContain(`to reach position ${head}`);

    follower.child.kill('SIGTERM');
    expect((await follower.exited).code).toBe(0);
  });

  it('keeps waiting for events appended after it started only when --position names them', async () => {
    const { dir, projections } = workspace();
    writeRecorder(projections, 'everything');
    appendMany(dir, 's-1', 'A', 2);
    const follower = background(dir, ['project', 'run', '--follow']);
    const later = appendOne(dir, 's-1', 'A', { later: true });
    const r = es(dir, ['project', 'wait', '--position', String(later), '--timeout', '20s']);
    expect(r.code, r.stderr).toBe(0);
    expect(seenPositions(DB(dir), 'everything')).toContain(later);
    expect(r.stdout).toMatch(new RegExp(`✔ position ${later} reached by everything in \\d`));
    follower.child.kill('SIGTERM');
    await follower.exited;
  });

  it('times out with exit 1 when nothing runs the projections, and says which are behind', () => {
    const { dir, projections } = workspace();
    writeRecorder(projections, 'everything');
    writeRecorder(projections, 'never-seen', { types: ['NeverHappens'] });
    appendMany(dir, 's-1', 'A', 5);
    const startedAt = Date.now();
    const r = es(dir, ['project', 'wait', '--timeout', '400ms']);
    const took = Date.now() - startedAt;
    expect(r.code).toBe(1);
    expect(took).toBeGreaterThanOrEqual(400);
    expect(took).toBeLessThan(10_000);
    expect(r.stderr).toContain('es: timed out after 400ms; not at position 5 yet: everything (at 0)');
    // The projection whose types never occur is not what holds the wait up.
    expect(r.stderr).not.toContain('never-seen (at');

    const json = es(dir, ['project', 'wait', '--timeout', '0s', '--json']);
    expect(json.code).toBe(1);
    expect(parseJson(json.stdout)).toMatchObject({
      target: 5,
      outcome: 'timed-out',
      projections: [
        { name: 'everything', position: 0, reached: false, failure: null },
        { name: 'never-seen', position: 0, reached: true, failure: null },
      ],
    });

    // With --log-format json every stderr line is a JSON log record.
    const logged = es(dir, ['project', 'wait', '--timeout', '0s', '--log-format', 'json']);
    expect(logged.code).toBe(1);
    const records = logged.stderr
      .trim()
      .split('\n')
      .map((line) => parseJson(line));
    expect(records.map((r) => r.level)).toEqual(['info', 'error']);
    expect(records[1]).toMatchObject({ outcome: 'timed-out', target: 5, msg: expect.stringContaining('timed out after 0s') });
  });

  it('exits 1 as soon as a projection it waits for faults, and at once when one is faulted already', async () => {
    const { dir, projections } = workspace();
    writeRecorder(projections, 'fragile', { failOnBoom: true });
    appendMany(dir, 's-1', 'A', 3);
    const boom = appendOne(dir, 's-1', 'A', { boom: true });
    appendMany(dir, 's-1', 'A', 2);

    const waiting = background(dir, ['project', 'wait', '--timeout', '30s']);
    // Faulted while it waits, not before it looked: the run starts once it says it waits.
    expect(await waitFor(() => waiting.output().stderr.includes('waiting for fragile'), 10_000), JSON.stringify(waiting.output())).toBe(true);
    expect(waiting.child.exitCode).toBeNull();
    expect(es(dir, ['project', 'run']).code).toBe(1);
    const exit = await exitWithin(waiting, 5000);
    expect(exit).not.toBe('running');
    expect((exit as { code: number }).code).toBe(1);
    expect(waiting.output().stderr).toContain(`es: fragile is faulted at position ${boom} (A, id `);
    expect(waiting.output().stderr).toContain(`boom at ${boom}; it will not reach position ${boom + 2}`);

    const startedAt = Date.now();
    const again = es(dir, ['project', 'wait', '--json']); // no timeout: only the fault can end it
    expect(again.code).toBe(1);
    expect(Date.now() - startedAt).toBeLessThan(5000);
    expect(parseJson(again.stdout)).toMatchObject({ outcome: 'failed', projections: [{ name: 'fragile', position: boom - 1, failure: 'faulted' }] });
  });

  it('exits 1 for a stale-version projection: it is never run again before a rebuild', () => {
    const { dir, projections } = workspace();
    writeRecorder(projections, 'versioned');
    appendMany(dir, 's-1', 'A', 3);
    expect(es(dir, ['project', 'run']).code).toBe(0);
    writeRecorder(projections, 'versioned', { version: 2 });
    const r = es(dir, ['project', 'wait', '--timeout', '10s']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('es: versioned is stale-version (its version changed) and will not be run before `es project rebuild versioned`');
    expect(es(dir, ['project', 'rebuild', 'versioned']).code).toBe(0);
    expect(es(dir, ['project', 'wait', '--timeout', '1s']).code).toBe(0);
  });

  it('--position: a checkpoint at or past it, or no pending event up to it, counts as reached', () => {
    const { dir, projections } = workspace();
    writeRecorder(projections, 'everything');
    writeRecorder(projections, 'only-b', { types: ['B'] });
    writeRecorder(projections, 'never-run-sparse', { types: ['Rare'] });
    const [first] = appendMany(dir, 's-1', 'A', 3) as [number];
    const b1 = appendOne(dir, 's-2', 'B');
    expect(es(dir, ['project', 'run', 'everything', 'only-b']).code).toBe(0);
    const moreA = appendMany(dir, 's-1', 'A', 4);
    const lastA = moreA[moreA.length - 1] as number;

    // `everything` is behind the head now; its checkpoint (b1) covers earlier positions.
    expect(es(dir, ['project', 'wait', 'everything', '--timeout', '300ms']).code).toBe(1);
    expect(es(dir, ['project', 'wait', 'everything', '--position', String(b1), '--timeout', '2s']).code).toBe(0);
    expect(es(dir, ['project', 'wait', 'everything', '--position', String(first), '--timeout', '2s']).code).toBe(0);
    expect(es(dir, ['project', 'wait', 'everything', '--position', String(lastA), '--timeout', '300ms']).code).toBe(1);

    // `only-b` has not checkpointed past b1 (nothing ran), but no B waits: it has reached the head.
    // So has `never-run-sparse`, whose type never occurs, though it never ran at all.
    const sparse = es(dir, ['project', 'wait', 'only-b', 'never-run-sparse', '--timeout', '2s', '--json']);
    expect(sparse.code, sparse.stderr).toBe(0);
    expect(parseJson(sparse.stdout).projections).toEqual([
      { name: 'only-b', position: b1, reached: true, failure: null },
      { name: 'never-run-sparse', position: 0, reached: true, failure: null },
    ]);

    // A new B makes only-b behind for the head, not for a position before that B.
    const b2 = appendOne(dir, 's-2', 'B');
    expect(es(dir, ['project', 'wait', 'only-b', '--timeout', '300ms']).code).toBe(1);
    expect(es(dir, ['project', 'wait', 'only-b', '--position', String(b2 - 1), '--timeout', '2s']).code).toBe(0);

    // A position past the head is not reached by having nothing pending: those events do not exist yet.
    expect(es(dir, ['project', 'run']).code).toBe(0);
    expect(es(dir, ['project', 'wait', '--timeout', '2s']).code).toBe(0);
    const ahead = es(dir, ['project', 'wait', '--position', String(b2 + 5), '--timeout', '300ms']);
    expect(ahead.code).toBe(1);
    expect(ahead.stderr).toContain(`the head is at ${b2} yet`);
  });

  it('with nothing to wait for (caught up, or no projections in the folder) exits 0 at once', () => {
    const { dir, projections } = workspace();
    writeRecorder(projections, 'everything');
    expect(es(dir, ['append', 's-1', 'A']).code).toBe(0);
    expect(es(dir, ['project', 'run']).code).toBe(0);
    expect(es(dir, ['project', 'wait']).code).toBe(0);
    const none = tempDir('es-wait-');
    mkdirSync(join(none, 'projections'));
    expect(es(none, ['append', 's-1', 'A']).code).toBe(0);
    const r = es(none, ['project', 'wait']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('position 1 reached by no projections');
  });

  it('rejects a malformed --timeout or --position with exit 2, and a missing store with exit 3', () => {
    const { dir, projections } = workspace();
    writeRecorder(projections, 'everything');
    expect(es(dir, ['append', 's-1', 'A']).code).toBe(0);
    for (const timeout of ['5', 'soon', '-1s', '10 parsecs', '']) {
      const r = es(dir, ['project', 'wait', '--timeout', timeout]);
      expect(r.code, timeout).toBe(2);
      expect(r.stderr).toContain('--timeout');
      expect(r.stdout).toBe('');
    }
    for (const position of ['x', '-1', '1.5']) {
      const r = es(dir, ['project', 'wait', '--position', position]);
      expect(r.code, position).toBe(2);
      expect(r.stderr).toContain('--position');
    }
    expect(es(dir, ['project', 'wait', 'nope', '--timeout', '1s']).code).toBe(2);
    const missing = es(dir, ['project', 'wait', '--db', join(dir, 'missing.db'), '--timeout', '1s']);
    expect(missing.code).toBe(3);
  });

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('%s while waiting exits %i', async (signal, code) => {
    const { dir, projections } = workspace();
    writeRecorder(projections, 'everything');
    appendMany(dir, 's-1', 'A', 2);
    const waiting = background(dir, ['project', 'wait']);
    expect(await waitFor(() => waiting.output().stderr.includes('waiting for everything'), 10_000)).toBe(true);
    waiting.child.kill(signal);
    const exit = await waiting.exited;
    expect(exit.code).toBe(code);
    expect(waiting.output().stderr).toContain('interrupted while waiting for position 2');
  });
});
