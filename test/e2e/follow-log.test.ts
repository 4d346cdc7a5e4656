import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { appendMany, appendOne, cleanupTempDirs, es, esBackground, seenPositions, tempDir, waitFor, writeFile, writeRecorder } from './helpers.js';

const running: ReturnType<typeof esBackground>[] = [];
afterEach(() => {
  for (const b of running.splice(0)) if (b.child.exitCode === null && b.child.signalCode === null) b.child.kill('SIGKILL');
});
afterAll(cleanupTempDirs);

const DB = (dir: string) => join(dir, '.es', 'events.db');

function workspace() {
  const dir = tempDir('es-followlog-');
  writeRecorder(join(dir, 'projections'), 'fragile', { failOnBoom: true });
  writeRecorder(join(dir, 'projections'), 'sturdy');
  const positions = appendMany(dir, 'acc', 'Deposited', 3);
  return { dir, positions };
}

/** Starts a follower and waits until `sturdy` has caught up with what is there. */
async function follower(dir: string, args: string[], count: number) {
  const b = esBackground(dir, ['project', 'run', '--follow', ...args]);
  running.push(b);
  expect(await waitFor(() => seenPositions(DB(dir), 'sturdy').length === count, 10_000), b.output().stderr).toBe(true);
  return b;
}

const jsonLines = (text: string) =>
  text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, any>);

describe('a --follow runner logs on stderr when it happens', () => {
  it('a fault, at once and once, while the other projections go on', async () => {
    const { dir } = workspace();
    const b = await follower(dir, [], 3);
    const bad = appendOne(dir, 'acc', 'Deposited', { boom: true });
    const logged = await waitFor(() => /fragile.*faulted/.test(b.output().stderr), 10_000);
    expect(logged, JSON.stringify(b.output())).toBe(true);
    expect(b.child.exitCode).toBeNull();
    expect(b.output().stderr).toContain(`at position ${bad}`);
    const later = appendOne(dir, 'acc', 'Deposited');
    expect(await waitFor(() => seenPositions(DB(dir), 'sturdy').includes(later), 10_000)).toBe(true);
    b.child.kill('SIGTERM');
    await b.exited;
    expect(
      b
        .output()
        .stderr.split('\n')
        .filter((line) => /fragile.*faulted/.test(line)),
    ).toHaveLength(1);
  });

  it('each dead letter with --on-error skip, as a JSON log line with --log-format json', async () => {
    const { dir } = workspace();
    const b = await follower(dir, ['--on-error', 'skip', '--log-format', 'json'], 3);
    const bad = appendOne(dir, 'acc', 'Deposited', { boom: true });
    const found = () => jsonLines(b.output().stderr).find((l) => l.projection === 'fragile' && l.deadLetter === true);
    expect(await waitFor(() => found() !== undefined, 10_000), JSON.stringify(b.output())).toBe(true);
    expect(b.child.exitCode).toBeNull();
    expect(found()).toMatchObject({ level: 'warn', position: bad, stream: '$deadletter-fragile' });
    expect(found()!.msg).toMatch(/dead-letter/);
    expect(found()!.error.message).toMatch(/boom/);
    b.child.kill('SIGTERM');
    await b.exited;
  });

  it('--quiet hides dead letters and recoveries but not faults', async () => {
    const { dir } = workspace();
    writeRecorder(join(dir, 'projections'), 'brittle', { failOnBoom: true });
    writeFile(dir, 'es.config.json', JSON.stringify({ projectionOptions: { fragile: { onError: 'skip' } } }));
    const b = await follower(dir, ['--quiet'], 3);
    const bad = appendOne(dir, 'acc', 'Deposited', { boom: true });
    expect(await waitFor(() => /brittle.*faulted/.test(b.output().stderr), 10_000), JSON.stringify(b.output())).toBe(true);
    expect(await waitFor(() => seenPositions(DB(dir), 'sturdy').includes(bad), 10_000)).toBe(true);
    // Stopped once fragile has dead-lettered the event: the line --quiet must hide was due by then.
    const deadLettered = () => es(dir, ['read', '--stream', '$deadletter-fragile']).stdout.includes('DeadLetter');
    expect(await waitFor(deadLettered, 10_000), `fragile dead-lettered nothing: ${JSON.stringify(b.output())}`).toBe(true);
    b.child.kill('SIGTERM');
    await b.exited;
    expect(b.output().stderr.trim().split('\n')).toEqual([expect.stringMatching(/brittle.*faulted/)]);
  });

  it('a recovery: a faulted projection that gets past its event', async () => {
    const { dir } = workspace();
    const bad = appendOne(dir, 'acc', 'Deposited', { boom: true });
    expect(es(dir, ['project', 'run']).code).toBe(1);
    writeRecorder(join(dir, 'projections'), 'fragile'); // fixed
    const b = await follower(dir, [], 4);
    const recovered = () =>
      b
        .output()
        .stderr.split('\n')
        .find((line) => /fragile.*recovered/.test(line));
    expect(await waitFor(() => recovered() !== undefined, 10_000), JSON.stringify(b.output())).toBe(true);
    expect(b.child.exitCode).toBeNull();
    expect(recovered()).toContain(`position ${bad}`);
    b.child.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
  });

  it('a run without --follow tells of a recovery too, and counts its dead letters on its summary line only', () => {
    const { dir } = workspace();
    const bad = appendOne(dir, 'acc', 'Deposited', { boom: true });
    expect(es(dir, ['project', 'run']).code).toBe(1);
    writeRecorder(join(dir, 'projections'), 'fragile'); // fixed
    const fixed = es(dir, ['project', 'run']);
    expect(fixed.code).toBe(0);
    expect(fixed.stderr).toMatch(new RegExp(`fragile: recovered: got past the event at position ${bad}`));
    writeRecorder(join(dir, 'projections'), 'fragile', { failOnBoom: true });
    appendOne(dir, 'acc', 'Deposited', { boom: true });
    const skipped = es(dir, ['project', 'run', '--on-error', 'skip']);
    expect(skipped.code).toBe(0);
    expect(skipped.stderr).toBe('');
    expect(skipped.stdout).toMatch(/fragile .*1 event dead-lettered/);
  });
});
