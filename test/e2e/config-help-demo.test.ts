import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ES_BIN, baseEnv, checkpointEvents, cleanupTempDirs, es, parseJson, readAll, tempDir, writeFile, writeRecorder } from './helpers.js';

afterAll(cleanupTempDirs);

describe('es.config.json', () => {
  it('a byte order mark at the start is accepted', () => {
    const dir = tempDir();
    writeRecorder(join(dir, 'from-config'), 'configured');
    writeFile(dir, 'es.config.json', `\uFEFF${JSON.stringify({ projections: 'from-config' })}`);
    const r = es(dir, ['project', 'list', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(parseJson(r.stdout).projections.map((p: { name: string }) => p.name)).toEqual(['configured']);
  });

  it('projectionOptions for a projection that does not exist is exit 3 naming it, and changes nothing', () => {
    const dir = tempDir();
    writeRecorder(join(dir, 'projections'), 'order-summary');
    expect(es(dir, ['append', 's-1', 'A']).code).toBe(0);
    writeFile(dir, 'es.config.json', JSON.stringify({ projectionOptions: { 'ordr-summary': { onError: 'skip' }, 'order-summary': { batchSize: 5 } } }));
    for (const args of [['project', 'run'], ['project', 'rebuild', '--all'], ['project', 'status'], ['project', 'list'], ['demo']]) {
      const r = es(dir, args);
      expect(r.code, args.join(' ')).toBe(3);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr).toMatch(/es\.config\.json: projectionOptions names no projection in .*: "ordr-summary" \(projections: order-summary\)/);
    }
    expect(checkpointEvents(dir, 'order-summary')).toEqual([]);
    expect(readAll(dir).map((e) => e.streamId)).toEqual(['s-1']);
    // Commands that load no projections do not judge their names.
    expect(es(dir, ['read']).code).toBe(0);
    writeFile(dir, 'es.config.json', JSON.stringify({ projectionOptions: { 'order-summary': { batchSize: 5 } } }));
    expect(es(dir, ['project', 'run']).code).toBe(0);
  });
});

describe('help', () => {
  it('a missing command is a usage error: help on stderr, exit 2', () => {
    const dir = tempDir();
    for (const [args, usage] of [
      [[], 'Usage: es [options] [command]'],
      [['project'], 'Usage: es project [options] [command]'],
    ] as const) {
      const r = es(dir, [...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(usage);
      expect(r.stderr.trimEnd().split('\n').at(-1)).toBe('es: missing command (the help above lists them)');
    }
  });

  it('asked for, help goes to stdout with exit 0', () => {
    const dir = tempDir();
    for (const args of [['--help'], ['help'], ['project', '--help'], ['help', 'project'], ['project', 'run', '--help']]) {
      const r = es(dir, args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stderr, args.join(' ')).toBe('');
      expect(r.stdout, args.join(' ')).toMatch(/^Usage: es/);
    }
  });

  it('es help takes a command path; subcommand help lists the global options, --db names PostgreSQL', () => {
    const dir = tempDir();
    const r = es(dir, ['help', 'project', 'run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: es project run \[options\]/);
    expect(r.stdout).toMatch(/Global Options:[\s\S]*--db <url>[\s\S]*postgres:\/\//);
    const wrong = es(dir, ['help', 'project', 'nope']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr.trim()).toBe("es: unknown command 'project nope'");
  });

  it('es project --help has examples of run, status in CI and rebuild', () => {
    const r = es(tempDir(), ['project', '--help']);
    expect(r.stdout).toMatch(/Examples:\n {2}\$ es project run\b/);
    expect(r.stdout).toMatch(/\$ es project status --max-lag 0 .*CI/);
    expect(r.stdout).toMatch(/\$ es project rebuild \S+/);
  });
});

describe('es demo: the next commands it suggests', () => {
  /** Runs a suggested command line through the shell, with `npx es` standing for this repository's bin. */
  function shell(cwd: string, line: string) {
    const r = spawnSync('sh', ['-c', `"$ES_NODE" "$ES_BIN" ${line.replace(/^npx es /, '')}`], {
      cwd,
      env: baseEnv({ ES_NODE: process.execPath, ES_BIN }),
      encoding: 'utf8',
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  it('repeat the --db, --config and --projections flags given, quoted for the shell, and work as printed', () => {
    const dir = tempDir();
    writeRecorder(join(dir, 'my projections'), 'shop-counter');
    writeFile(dir, 'conf/es.json', JSON.stringify({ batchSize: 500 }));
    const demo = es(dir, ['demo', '--db', 'shop.db', '--config', 'conf/es.json', '--projections', 'my projections']);
    expect(demo.code, demo.stderr).toBe(0);
    const next = /^next: (.*)$/m.exec(demo.stdout)?.[1];
    expect(next).toBe(
      "npx es project status --db shop.db --config conf/es.json --projections 'my projections' · " +
        'npx es read --db shop.db --config conf/es.json --limit 5 · ' +
        "npx es project rebuild --all --db shop.db --config conf/es.json --projections 'my projections'",
    );
    const [status, read, rebuild] = next!.split(' · ');
    const s = shell(dir, `${status!} --json`);
    expect(s.code, s.stderr).toBe(0);
    expect(parseJson(s.stdout).projections.map((p: { name: string; state: string }) => [p.name, p.state])).toEqual([['shop-counter', 'up-to-date']]);
    const r = shell(dir, read!);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(5);
    expect(shell(dir, rebuild!).code).toBe(0);
  });

  it('with --db and no projections folder here, name the store and the shipped projections', () => {
    const dir = tempDir();
    const demo = es(dir, ['demo', '--db', 'sqlite:demo.db']);
    expect(demo.code, demo.stderr).toBe(0);
    const next = /^next: (.*)$/m.exec(demo.stdout)?.[1] ?? '';
    expect(next).toMatch(/^npx es project status --db sqlite:demo\.db --projections \S+ · npx es read --db sqlite:demo\.db --limit 5 · /);
    for (const line of next.split(' · ')) {
      const r = shell(dir, line);
      expect(r.code, `${line}: ${r.stderr}`).toBe(0);
    }
  });
});
