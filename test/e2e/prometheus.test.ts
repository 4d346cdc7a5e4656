import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, describe, expect, it } from 'vitest';
import { renderPrometheus } from '../../src/cli/prometheus.js';
import type { StatusReport } from '../../src/engine/status.js';
import { ES_BIN, appendMany, appendOne, baseEnv, cleanupTempDirs, es, parseJson, tempDir, waitFor, writeRecorder } from './helpers.js';

afterAll(cleanupTempDirs);

const STATES = ['up-to-date', 'behind', 'never-run', 'faulted', 'stale-version'];
/** Every state has its 0/1 series; the workspace shows all but a rebuild in progress. */
const SERIES = [...STATES, 'rebuilding'];

interface Sample {
  labels: Record<string, string>;
  value: number;
}
interface Family {
  help: string;
  type: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
// Go's ParseFloat as Prometheus reads a value: decimal or exponent notation, NaN, ±Inf.
const VALUE = /^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|NaN|[+-]Inf)$/;

function unescapeLabel(raw: string, line: string): string {
  return raw.replace(/\\(.)/g, (_, c: string) => {
    if (c === '\\') return '\\';
    if (c === '"') return '"';
    if (c === 'n') return '\n';
    throw new Error(`bad escape \\${c} in label value: ${line}`);
  });
}

/**
 * A strict reader of the text exposition format 0.0.4 (as written by this tool: no timestamps):
 * LF line ends with a final one, HELP and TYPE at most once per family and before its samples,
 * each family's samples together, no duplicate series, label values escaped as the format says.
 */
function strictParse(text: string): Map<string, Family> {
  expect(text.endsWith('\n'), 'ends with a line feed').toBe(true);
  expect(text).not.toContain('\r');
  const families = new Map<string, Family>();
  const closed = new Set<string>();
  const series = new Set<string>();
  let current: string | undefined;
  const family = (name: string, line: string): Family => {
    if (!NAME.test(name)) throw new Error(`bad metric name: ${line}`);
    if (current !== name) {
      if (current !== undefined) closed.add(current);
      if (closed.has(name)) throw new Error(`family ${name} is split: ${line}`);
      current = name;
    }
    let f = families.get(name);
    if (!f) families.set(name, (f = { help: '', type: '', samples: [] }));
    return f;
  };
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') throw new Error('empty line');
    const help = /^# HELP (\S+) (.*)$/.exec(line);
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (help) {
      const f = family(help[1] as string, line);
      if (f.help || f.samples.length > 0) throw new Error(`HELP repeated or after samples: ${line}`);
      if (/\\[^\\n]/.test((help[2] as string).replace(/\\\\/g, ''))) throw new Error(`bad escape in HELP: ${line}`);
      f.help = help[2] as string;
    } else if (type) {
      const f = family(type[1] as string, line);
      if (f.type || f.samples.length > 0) throw new Error(`TYPE repeated or after samples: ${line}`);
      f.type = type[2] as string;
    } else if (line.startsWith('#')) {
      throw new Error(`unexpected comment: ${line}`);
    } else {
      const m = /^([^{\s]+)(?:\{((?:[^"]|"(?:[^"\\]|\\.)*")*)\})? (\S+)$/.exec(line);
      if (!m) throw new Error(`not a sample line: ${line}`);
      const f = family(m[1] as string, line);
      const labels: Record<string, string> = {};
      const body = m[2] ?? '';
      const pair = /([^=,]+)="((?:[^"\\]|\\.)*)"(,|$)/gy;
      let consumed = 0;
      for (let p = pair.exec(body); p; p = pair.exec(body)) {
        const key = p[1] as string;
        if (!LABEL_NAME.test(key) || key.startsWith('__')) throw new Error(`bad label name: ${line}`);
        if (key in labels) throw new Error(`label repeated: ${line}`);
        labels[key] = unescapeLabel(p[2] as string, line);
        consumed = pair.lastIndex;
        if (p[3] === '') break;
      }
      if (consumed !== body.length) throw new Error(`bad label set: ${line}`);
      if (!VALUE.test(m[3] as string)) throw new Error(`bad value: ${line}`);
      const key = `${m[1]}${JSON.stringify(Object.entries(labels).sort())}`;
      if (series.has(key)) throw new Error(`duplicate series: ${line}`);
      series.add(key);
      f.samples.push({ labels, value: Number((m[3] as string).replace('Inf', 'Infinity')) });
    }
  }
  return families;
}

/** Both readers must agree: ours (strict) and the npm parser (a port of prom2json's). */
function parseBoth(text: string): Map<string, Family> {
  const strict = strictParse(text);
  const theirs = parsePrometheusTextFormat(text);
  expect(theirs.map((f) => f.name)).toEqual([...strict.keys()]);
  for (const f of theirs) {
    const mine = strict.get(f.name) as Family;
    expect(f.type).toBe(mine.type.toUpperCase());
    expect(f.help.length).toBeGreaterThan(0);
    expect(f.metrics.map((s) => ({ labels: s.labels ?? {}, value: Number(s.value) }))).toEqual(mine.samples);
  }
  return strict;
}

function byProjection(f: Family | undefined): Map<string, number> {
  return new Map((f?.samples ?? []).map((s) => [s.labels.projection as string, s.value]));
}

/** A store with one projection in each state. */
function everyState(): string {
  const dir = tempDir('es-prom-');
  const projections = join(dir, 'projections');
  writeRecorder(projections, 'fresh', { types: ['A'] });
  writeRecorder(projections, 'lagging');
  writeRecorder(projections, 'never', { types: ['A'] });
  writeRecorder(projections, 'fragile', { failOnBoom: true });
  writeRecorder(projections, 'versioned');
  appendMany(dir, 's-1', 'A', 3);
  expect(es(dir, ['project', 'run', 'fresh', 'lagging', 'fragile', 'versioned']).code).toBe(0);
  appendOne(dir, 's-1', 'A', { boom: true });
  expect(es(dir, ['project', 'run', 'fragile']).code).toBe(1);
  writeRecorder(projections, 'versioned', { version: 2 });
  appendMany(dir, 's-1', 'A', 2);
  expect(es(dir, ['project', 'run', 'fresh']).code).toBe(0);
  return dir;
}

describe('es project status --format prometheus', () => {
  it('writes valid exposition text whose values match status --json, with the same exit code', () => {
    const dir = everyState();
    const json = es(dir, ['project', 'status', '--json']);
    const prom = es(dir, ['project', 'status', '--format', 'prometheus']);
    expect(json.code).toBe(1);
    expect(prom.code).toBe(1);
    expect(prom.stderr).toBe('');
    const report = parseJson(json.stdout);
    const families = parseBoth(prom.stdout);

    expect([...families.keys()]).toEqual([
      'es_head_position',
      'es_projections_healthy',
      'es_projection_healthy',
      'es_projection_position',
      'es_projection_lag_events',
      'es_projection_lag_seconds',
      'es_projection_version',
      'es_projection_last_checkpoint_timestamp_seconds',
      'es_projection_dead_letters_total',
      'es_projection_owner',
      'es_projection_lease_expires_timestamp_seconds',
      'es_projection_shadow_position',
      'es_projection_shadow_lag_events',
      'es_workers',
      'es_projection_state',
    ]);
    // No shadow is being built: the shadow families have no samples.
    expect(families.get('es_projection_shadow_position')?.samples).toEqual([]);
    // Nobody holds a projection between cron runs: owner 0 with empty labels, no lease expiry, no workers.
    expect(families.get('es_projection_owner')?.samples.every((s: any) => s.value === 0 && s.labels.host === '' && s.labels.pid === '')).toBe(true);
    expect(families.get('es_projection_lease_expires_timestamp_seconds')?.samples).toEqual([]);
    expect(families.get('es_workers')?.samples).toEqual([{ labels: {}, value: 0 }]);
    // Gauges, but the dead-letter count, which only grows (its stream is never trimmed).
    for (const [name, f] of families) expect(f.type, name).toBe(name === 'es_projection_dead_letters_total' ? 'counter' : 'gauge');
    expect([...byProjection(families.get('es_projection_dead_letters_total')).values()]).toEqual(report.projections.map(() => 0));
    expect(families.get('es_head_position')?.samples).toEqual([{ labels: {}, value: report.head }]);
    expect(families.get('es_projections_healthy')?.samples).toEqual([{ labels: {}, value: 0 }]);

    const names = report.projections.map((p: any) => p.name);
    expect(new Set(report.projections.map((p: any) => p.state))).toEqual(new Set(STATES));
    const position = byProjection(families.get('es_projection_position'));
    const lag = byProjection(families.get('es_projection_lag_events'));
    const lagSeconds = byProjection(families.get('es_projection_lag_seconds'));
    const version = byProjection(families.get('es_projection_version'));
    const checkpointAt = byProjection(families.get('es_projection_last_checkpoint_timestamp_seconds'));
    const healthy = byProjection(families.get('es_projection_healthy'));
    for (const row of report.projections) {
      expect(position.get(row.name), row.name).toBe(row.position);
      expect(lag.get(row.name), row.name).toBe(row.lag);
      expect(version.get(row.name), row.name).toBe(row.version);
      // lagSeconds grows with the clock between the two commands; everything else is the same.
      expect(Math.abs((lagSeconds.get(row.name) as number) - row.lagSeconds), row.name).toBeLessThan(5);
      if (row.lag === 0) expect(lagSeconds.get(row.name)).toBe(0);
      if (row.lastCheckpointAt === null) expect(checkpointAt.has(row.name), row.name).toBe(false);
      else expect(checkpointAt.get(row.name), row.name).toBe(Date.parse(row.lastCheckpointAt) / 1000);
      expect(healthy.get(row.name), row.name).toBe(row.state === 'up-to-date' || row.state === 'behind' ? 1 : 0);
    }
    expect([...position.keys()]).toEqual(names);

    // One 0/1 series per state and projection, exactly one 1 per projection: the state --json shows.
    const state = families.get('es_projection_state') as Family;
    expect(state.samples).toHaveLength(names.length * SERIES.length);
    for (const row of report.projections) {
      const mine = state.samples.filter((s) => s.labels.projection === row.name);
      expect(mine.map((s) => s.labels.state).sort()).toEqual([...SERIES].sort());
      expect(mine.filter((s) => s.value === 1).map((s) => s.labels.state)).toEqual([row.state]);
      expect(mine.every((s) => s.value === 0 || s.value === 1)).toBe(true);
    }
  });

  it('exits 0 and reports healthy 1 when all is well; --quiet does not hide it; thresholds apply', () => {
    const dir = tempDir('es-prom-');
    writeRecorder(join(dir, 'projections'), 'fresh');
    appendMany(dir, 's-1', 'A', 2);
    expect(es(dir, ['project', 'run']).code).toBe(0);
    const ok = es(dir, ['project', 'status', '--format', 'prometheus', '--quiet']);
    expect(ok.code).toBe(0);
    const families = parseBoth(ok.stdout);
    expect(families.get('es_projections_healthy')?.samples[0]?.value).toBe(1);
    expect(families.get('es_projection_lag_events')?.samples).toEqual([{ labels: { projection: 'fresh' }, value: 0 }]);

    appendOne(dir, 's-1', 'A');
    const lagging = es(dir, ['project', 'status', '--format', 'prometheus', '--max-lag', '0']);
    expect(lagging.code).toBe(1);
    expect(parseBoth(lagging.stdout).get('es_projections_healthy')?.samples[0]?.value).toBe(0);
    expect(es(dir, ['project', 'status', '--format', 'table']).code).toBe(0);
  });

  it('rejects an unknown format, and --json with --format prometheus, with exit 2', () => {
    const dir = tempDir('es-prom-');
    writeRecorder(join(dir, 'projections'), 'fresh');
    appendOne(dir, 's-1', 'A');
    const xml = es(dir, ['project', 'status', '--format', 'xml']);
    expect(xml.code).toBe(2);
    expect(xml.stderr).toContain('xml');
    const both = es(dir, ['project', 'status', '--format', 'prometheus', '--json']);
    expect(both.code).toBe(2);
    expect(both.stdout).toBe('');
  });

  it('escapes label values (backslash, double quote, line feed) so that parsers read them back', () => {
    const name = 'we"ird\\name\nwith {braces}, commas="and" \\n';
    const report: StatusReport = {
      head: 7,
      workers: 0,
      healthy: true,
      projections: [
        {
          name,
          version: 1,
          position: 7,
          lag: 0,
          lagSeconds: 0,
          state: 'up-to-date',
          lastCheckpointAt: '2026-01-02T03:04:05.678Z',
          error: null,
          healthy: true,
          deadLetters: 0,
          owner: null,
          shadow: null,
        },
      ],
    };
    const text = renderPrometheus(report);
    expect(text).toContain('{projection="we\\"ird\\\\name\\nwith {braces}, commas=\\"and\\" \\\\n"}');
    const families = parseBoth(text);
    expect(families.get('es_projection_position')?.samples).toEqual([{ labels: { projection: name }, value: 7 }]);
    expect(families.get('es_projection_last_checkpoint_timestamp_seconds')?.samples[0]?.value).toBe(1767323045.678);
  });
});

describe('es project status --watch', () => {
  it('refuses with a usage error (exit 2) when stdout is not a terminal', () => {
    const dir = tempDir('es-prom-');
    writeRecorder(join(dir, 'projections'), 'fresh');
    appendOne(dir, 's-1', 'A');
    const r = es(dir, ['project', 'status', '--watch'], { timeoutMs: 10_000 });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('--watch needs a terminal');
  });

  // util-linux `script` gives the child a pseudo-terminal; Ctrl-C typed into it is a real SIGINT.
  // It starts the command through $SHELL; `exec` makes es the terminal's only foreground process,
  // or a shell that is still waiting (dash, CI's /bin/sh) takes the SIGINT too and exits 130 itself.
  const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
  it.skipIf(!hasScript)('on a terminal, redraws every second and exits 0 on Ctrl-C', async () => {
    const dir = tempDir('es-prom-');
    writeRecorder(join(dir, 'projections'), 'fresh');
    appendOne(dir, 's-1', 'A');
    const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
    const command = `exec ${quote(process.execPath)} ${quote(ES_BIN)} project status --watch`;
    const child = spawn('script', ['-qefc', command, '/dev/null'], { cwd: dir, env: baseEnv({ SHELL: '/bin/sh' }), stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (screen += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const frames = (): number => screen.split('es project status --watch').length - 1;
    try {
      expect(await waitFor(() => frames() >= 2, 15_000)).toBe(true);
      child.stdin.write('\x03');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
    expect(screen).toContain('\x1b[H\x1b[2J');
    // eslint-disable-next-line no-control-regex
    const plain = screen.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
    expect(plain).toMatch(/^fresh +1 +0 +1 +[\d.]+s +never-run +- +-\r?$/m);
    expect(plain).toContain('head 1  unhealthy');
  });
});
