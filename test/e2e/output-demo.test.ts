import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ANSI,
  ES_BIN,
  REPO_PROJECTIONS,
  appendMany,
  baseEnv,
  checkpointEvents,
  cleanupTempDirs,
  es,
  jsonLines,
  parseJson,
  readAll,
  seenPositions,
  tempDir,
  writeRecorder,
} from './helpers.js';

afterAll(cleanupTempDirs);

/** SGR (colour) escape sequences. */
// eslint-disable-next-line no-control-regex
const SGR = /\x1b\[[0-9;]*m/;

describe('es demo', () => {
  it('creates .es/events.db with at least 10,000 events, runs every projection, and is idempotent', () => {
    const dir = tempDir();
    const first = es(dir, ['demo', '--projections', REPO_PROJECTIONS]);
    expect(first.code, first.stderr).toBe(0);
    expect(existsSync(join(dir, '.es', 'events.db'))).toBe(true);
    const events = readAll(dir);
    expect(events.length).toBeGreaterThanOrEqual(10_000);
    // nothing but the store (and no projections folder) was created in the working directory
    expect(readdirSync(dir).filter((f) => !f.startsWith('.stdout-'))).toEqual(['.es']);

    const status = es(dir, ['project', 'status', '--json', '--projections', REPO_PROJECTIONS]);
    expect(status.code).toBe(0);
    const report = parseJson(status.stdout);
    expect(report.projections.length).toBe(3);
    for (const row of report.projections) {
      expect(row.state).toBe('up-to-date');
      expect(row.position).toBe(report.head);
      expect(checkpointEvents(dir, row.name).length).toBeGreaterThan(0);
    }
    expect(report.head).toBe(events[events.length - 1]!.position);

    const second = es(dir, ['demo', '--projections', REPO_PROJECTIONS]);
    expect(second.code, second.stderr).toBe(0);
    const again = readAll(dir);
    expect(again.length).toBe(events.length);
    expect(again.map((e) => e.id)).toEqual(events.map((e) => e.id));
    expect(es(dir, ['project', 'status', '--projections', REPO_PROJECTIONS]).code).toBe(0);
  });

  it('without a projections folder, runs the shipped ones and prints next commands that work here', () => {
    const dir = tempDir();
    const demo = es(dir, ['demo']);
    expect(demo.code, demo.stderr).toBe(0);
    const next = /^next: npx es (project status --projections (\S+)) · npx es read --limit 5 · npx es project rebuild --all --projections (\S+)$/m.exec(
      demo.stdout,
    );
    expect(next, demo.stdout).not.toBeNull();
    expect(next![2]).toBe(REPO_PROJECTIONS);
    expect(next![3]).toBe(REPO_PROJECTIONS);
    const status = es(dir, ['project', 'status', '--json', '--projections', next![2]!]);
    expect(status.code, status.stderr).toBe(0);
    expect(parseJson(status.stdout).projections.map((p: { state: string }) => p.state)).toEqual(['up-to-date', 'up-to-date', 'up-to-date']);
  });
});

describe('output hygiene', () => {
  function prepared(): string {
    const dir = tempDir();
    writeRecorder(join(dir, 'projections'), 'alpha');
    writeRecorder(join(dir, 'projections'), 'beta', { types: ['B'], failOnBoom: true });
    appendMany(dir, 's', 'A', 3);
    return dir;
  }

  it('--json: stdout is JSON only, with no ANSI codes anywhere', () => {
    const dir = prepared();
    const docs: [string[], number][] = [
      [['project', 'list', '--json'], 0],
      [['project', 'status', '--json'], 1],
      [['project', 'run', '--json'], 0],
      [['project', 'status', '--json'], 0],
      [['project', 'rebuild', '--all', '--json'], 0],
      [['project', 'replay-from', 'alpha', '1', '--json'], 0],
    ];
    for (const [args, code] of docs) {
      const r = es(dir, args);
      expect(r.code, args.join(' ')).toBe(code);
      expect(() => JSON.parse(r.stdout), args.join(' ')).not.toThrow();
      expect(r.stdout, args.join(' ')).not.toMatch(ANSI);
      expect(r.stderr, args.join(' ')).not.toMatch(ANSI);
    }
    // a faulted run still prints one JSON document
    es(dir, ['append', 'b', 'B', '{"boom":true}']);
    const faulted = es(dir, ['project', 'run', '--json']);
    expect(faulted.code).toBe(1);
    const doc = parseJson(faulted.stdout);
    expect(doc.projections.find((p: any) => p.name === 'beta').state).toBe('faulted');
    expect(faulted.stdout + faulted.stderr).not.toMatch(ANSI);

    const read = es(dir, ['read', '--json', '--include-system']);
    expect(read.code).toBe(0);
    expect(read.stdout).not.toMatch(ANSI);
    expect(jsonLines(read.stdout).length).toBeGreaterThan(4);
  });

  it('not on a terminal (with or without NO_COLOR): no ANSI codes in human output', () => {
    const dir = prepared();
    for (const env of [{}, { NO_COLOR: '1' }, { TERM: 'xterm-256color' }]) {
      for (const args of [['project', 'run'], ['project', 'status'], ['read'], ['project', 'list'], ['project', 'rebuild', 'alpha']]) {
        const r = es(dir, args, { env });
        expect(r.code, `${args.join(' ')} ${JSON.stringify(env)}: ${r.stderr}`).toBe(0);
        expect(r.stdout.length).toBeGreaterThan(0);
        expect(r.stdout, args.join(' ')).not.toMatch(ANSI);
        expect(r.stderr, args.join(' ')).not.toMatch(ANSI);
      }
    }
  });

  it('--quiet prints nothing on stdout for run, and still does the work', () => {
    const dir = prepared();
    const run = es(dir, ['project', 'run', '--quiet']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('');
    expect(seenPositions(join(dir, '.es', 'events.db'), 'alpha')).toHaveLength(3);
    const q = es(dir, ['--quiet', 'project', 'run']);
    expect(q.code).toBe(0);
    expect(q.stdout).toBe('');
    // errors are not hidden by --quiet
    es(dir, ['append', 'b', 'B', '{"boom":true}']);
    const faulted = es(dir, ['project', 'run', '--quiet']);
    expect(faulted.code).toBe(1);
    expect(faulted.stdout).toBe('');
  });

  const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

  /** Runs a command on a pseudo-terminal (util-linux `script`); stdout and stderr are merged. */
  function onTerminal(cwd: string, args: string[], env: Record<string, string>, size = { cols: 120, rows: 40 }) {
    const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    // `timeout` makes sure a hanging command cannot outlive the test
    const command =
      `stty cols ${size.cols} rows ${size.rows} 2>/dev/null; ` + `timeout --foreground -s KILL 8 ${[process.execPath, ES_BIN, ...args].map(quote).join(' ')}`;
    const r = spawnSync('script', ['-qec', command, '/dev/null'], {
      cwd,
      env: baseEnv(env),
      encoding: 'utf8',
      timeout: 25_000,
      maxBuffer: 256 * 1024 * 1024,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { code: r.status, output: r.stdout };
  }

  it.skipIf(!hasScript)('on a terminal with NO_COLOR set: no colour codes', () => {
    const dir = prepared();
    // the harness really gives a terminal
    const probe = spawnSync('script', ['-qec', `${process.execPath} -e "process.stdout.write(String(process.stdout.isTTY))"`, '/dev/null'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(probe.stdout).toContain('true');

    for (const args of [['read'], ['project', 'list'], ['project', 'run'], ['project', 'status'], ['project', 'rebuild', '--all']]) {
      const r = onTerminal(dir, args, { NO_COLOR: '1' });
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.output.length).toBeGreaterThan(0);
      expect(r.output, `${args.join(' ')}: ${JSON.stringify(r.output.slice(0, 300))}`).not.toMatch(SGR);
    }
  });

  it.skipIf(!hasScript)('on a terminal with NO_COLOR set but empty: colour, as no-color.org says', () => {
    const dir = prepared();
    expect(onTerminal(dir, ['project', 'status'], { NO_COLOR: '' }).output).toMatch(SGR);
  });

  it.skipIf(!hasScript)('on a terminal with FORCE_COLOR=0 (or false): no colour codes either', () => {
    const dir = prepared();
    expect(onTerminal(dir, ['project', 'status'], {}).output, 'colour by default, so the check below means something').toMatch(SGR);
    for (const FORCE_COLOR of ['0', 'false']) {
      // Exit 1: the projections have not run yet; the table is what matters.
      const r = onTerminal(dir, ['project', 'status'], { FORCE_COLOR });
      expect(r.output).toContain('alpha');
      expect(r.output, `FORCE_COLOR=${FORCE_COLOR}: ${JSON.stringify(r.output.slice(0, 300))}`).not.toMatch(SGR);
    }
  });

  it.skipIf(!hasScript)('on a terminal that reports no size (0 columns), project run still finishes', () => {
    const dir = prepared();
    appendMany(dir, 's', 'A', 50);
    const started = Date.now();
    const r = onTerminal(dir, ['project', 'run'], {}, { cols: 0, rows: 0 });
    expect(r.code, `${Date.now() - started} ms, ${r.output.length} bytes of output`).toBe(0);
    expect(r.output.length).toBeLessThan(100_000);
    expect(seenPositions(join(dir, '.es', 'events.db'), 'alpha')).toHaveLength(53);
  });
});
