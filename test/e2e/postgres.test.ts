/**
 * The CLI against PostgreSQL: the scenario users run on SQLite, through `es` spawned as a process,
 * against a fresh schema of the test server (ES_TEST_PG_URL, or an embedded server).
 */
import { createServer, type Server } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTempDirs, es, esBackground, jsonLines, parseJson, tempDir, waitFor, writeFile } from './helpers.js';
import { freshPgStore, pgServerUrl } from '../support/pg.js';

const schemas: ReturnType<typeof freshPgStore>[] = [];
let admin: pg.Pool;

beforeAll(() => {
  admin = new pg.Pool({ connectionString: pgServerUrl(), max: 3 });
});
afterAll(async () => {
  for (const fresh of schemas) await fresh.drop().catch(() => {});
  await admin.end();
  cleanupTempDirs();
});

/** A working folder whose es.config.json points at a new schema, with a recorder projection. */
function workspace(options: { failOn?: string; version?: number } = {}) {
  const fresh = freshPgStore();
  schemas.push(fresh);
  const dir = tempDir('es-pg-e2e-');
  writeFile(dir, 'es.config.json', JSON.stringify({ db: fresh.url }));
  writeRecorder(dir, fresh.schema, options);
  return { dir, schema: fresh.schema, url: fresh.url };
}

/** A projection that records each event once: a primary key per event id turns a double into a fault. */
function writeRecorder(dir: string, schema: string, options: { failOn?: string; version?: number } = {}) {
  writeFile(
    dir,
    'projections/recorder.mjs',
    `export default {
  name: 'recorder',
  version: ${options.version ?? 1},
  async setup(db) {
    await db.query('CREATE TABLE IF NOT EXISTS "${schema}".recorded (id text PRIMARY KEY, position bigint NOT NULL, stream text NOT NULL, version int NOT NULL)');
  },
  async reset(db) { await db.query('DELETE FROM "${schema}".recorded'); },
  handlers: {
    async '*'(event, db) {
      ${options.failOn ? `if (event.type === ${JSON.stringify(options.failOn)}) throw new Error('cannot handle ' + event.id);` : ''}
      await db.query('INSERT INTO "${schema}".recorded (id, position, stream, version) VALUES ($1, $2, $3, $4)',
        [event.id, event.position, event.streamId, event.version]);
    },
  },
};
`,
  );
}

async function recorded(schema: string): Promise<{ id: string; position: number }[]> {
  const { rows } = await admin.query<{ id: string; position: string }>(`SELECT id, position FROM "${schema}".recorded ORDER BY position`);
  return rows.map((r) => ({ id: r.id, position: Number(r.position) }));
}

function ndjson(count: number, streams = 7, type = 'Tick'): string {
  return Array.from({ length: count }, (_, i) => JSON.stringify({ streamId: `s-${i % streams}`, type, data: { n: i + 1 }, id: `ev-${i + 1}` })).join('\n');
}

describe('es on PostgreSQL', () => {
  it('runs the SQLite scenario: import, run, status, incremental run, replay-from, rebuild, version change', async () => {
    const { dir, schema } = workspace();
    writeFile(dir, 'events.ndjson', ndjson(300));
    expect(es(dir, ['project', 'status']).code).toBe(3); // no store yet
    const imported = es(dir, ['import', 'events.ndjson', '--json']);
    expect(imported.code, imported.stderr).toBe(0);
    expect(parseJson(imported.stdout)).toMatchObject({ appended: 300, skipped: 0 });
    expect(parseJson(es(dir, ['import', 'events.ndjson', '--json']).stdout)).toMatchObject({ appended: 0, skipped: 300 });

    let status = parseJson(es(dir, ['project', 'status', '--json']).stdout);
    expect(status).toMatchObject({ head: 300, healthy: false, projections: [{ name: 'recorder', state: 'never-run', lag: 300, position: 0 }] });

    const run = es(dir, ['project', 'run', '--json', '--batch-size', '64']);
    expect(run.code, run.stderr).toBe(0);
    expect(parseJson(run.stdout).projections[0]).toMatchObject({ name: 'recorder', from: 0, to: 300, processed: 300, state: 'up-to-date' });
    expect((await recorded(schema)).length).toBe(300);
    status = parseJson(es(dir, ['project', 'status', '--json', '--max-lag', '0']).stdout);
    expect(status).toMatchObject({ head: 300, healthy: true, projections: [{ state: 'up-to-date', lag: 0, position: 300 }] });

    const appended = es(dir, ['append', 's-1', 'Tock', '{"n":301}']);
    expect(appended.code).toBe(0);
    const position = Number(appended.stdout.trim());
    const behind = es(dir, ['project', 'status', '--json', '--max-lag', '0']);
    expect(behind.code).toBe(1);
    expect(parseJson(behind.stdout).projections[0]).toMatchObject({ state: 'behind', lag: 1 });
    const again = parseJson(es(dir, ['project', 'run', '--json']).stdout).projections[0];
    expect(again).toMatchObject({ from: 300, to: position, processed: 1 });

    // Checkpoint stream: never more than 10 events, the last tells the position.
    for (let i = 0; i < 12; i++) {
      es(dir, ['append', 's-2', 'Tock']);
      expect(es(dir, ['project', 'run', '--quiet']).code).toBe(0);
    }
    const checkpoints = jsonLines(es(dir, ['read', '--stream', '$checkpoint-recorder', '--json']).stdout);
    expect(checkpoints.length).toBeLessThanOrEqual(10);
    const last = checkpoints[checkpoints.length - 1]!;
    expect(last.type).toBe('Checkpoint');
    expect(last.data).toMatchObject({
      position: Number(es(dir, ['project', 'status', '--json']).stdout && parseJson(es(dir, ['project', 'status', '--json']).stdout).head),
      version: 1,
    });

    // replay-from: the recorder's primary key turns a re-handled event into a fault.
    const replay = es(dir, ['project', 'replay-from', 'recorder', '290', '--json']);
    expect(replay.code).toBe(1);
    expect(parseJson(replay.stdout).projections[0].error.message).toMatch(/duplicate key/);
    await admin.query(`DELETE FROM "${schema}".recorded WHERE position >= 290`);
    const replayed = es(dir, ['project', 'replay-from', 'recorder', '290', '--json']);
    expect(replayed.code, replayed.stderr).toBe(0);
    const head = parseJson(es(dir, ['project', 'status', '--json']).stdout).head as number;
    expect((await recorded(schema)).length).toBe(300 + 13);
    expect(es(dir, ['project', 'replay-from', 'recorder', String(head + 5)]).code).toBe(2);

    const rebuild = es(dir, ['project', 'rebuild', 'recorder', '--json']);
    expect(rebuild.code, rebuild.stderr).toBe(0);
    expect(parseJson(rebuild.stdout).projections[0]).toMatchObject({ from: 0, to: head, processed: 313, state: 'up-to-date' });
    expect((await recorded(schema)).length).toBe(313);

    writeRecorder(dir, schema, { version: 2 });
    const stale = es(dir, ['project', 'status', '--json']);
    expect(stale.code).toBe(1);
    expect(parseJson(stale.stdout).projections[0].state).toBe('stale-version');
    expect(es(dir, ['project', 'run']).code).toBe(1);
    expect(es(dir, ['project', 'rebuild', '--all']).code).toBe(0);
    expect(parseJson(es(dir, ['project', 'status', '--json']).stdout).projections[0]).toMatchObject({ state: 'up-to-date', version: 2 });
  });

  it('records a fault, keeps the events before it, and an append conflict exits 4', async () => {
    const { dir, schema } = workspace({ failOn: 'Poison' });
    es(dir, ['append', 'a', 'Tick']);
    es(dir, ['append', 'a', 'Tick']);
    es(dir, ['append', 'b', 'Poison']);
    es(dir, ['append', 'a', 'Tick']);
    const run = es(dir, ['project', 'run', '--json']);
    expect(run.code).toBe(1);
    const status = parseJson(es(dir, ['project', 'status', '--json']).stdout).projections[0];
    expect(status).toMatchObject({ state: 'faulted', position: 2, error: { position: 3, type: 'Poison' } });
    expect((await recorded(schema)).map((r) => r.position)).toEqual([1, 2]);
    expect(es(dir, ['append', 'a', 'Tick', '--expected-version', '1']).code).toBe(4);
    expect(es(dir, ['append', 'new', 'Tick', '--expected-version', 'no-stream']).code).toBe(0);
    expect(es(dir, ['append', '$x', 'Tick']).code).toBe(2);
  });

  it('a second runner of a held projection exits 75 naming the holder; kill -9 loses nothing and doubles nothing', async () => {
    const { dir, schema } = workspace();
    writeFile(dir, 'events.ndjson', ndjson(4000, 13));
    expect(es(dir, ['import', 'events.ndjson']).code).toBe(0);
    const follower = esBackground(dir, ['project', 'run', '--follow', '--batch-size', '50']);
    expect(await waitFor(() => es(dir, ['project', 'status', '--json']).stdout.includes('"position": 4000'), 30_000)).toBe(true);
    const second = es(dir, ['project', 'run']);
    expect(second.code).toBe(75);
    expect(second.stderr).toMatch(/pid \d+/);
    follower.child.kill('SIGTERM');
    expect((await follower.exited).code).toBe(0);

    // kill -9 in the middle of a run, several times (once it has recorded 20, 200, then 100 events
    // more: under way, whatever the machine's speed); then finish and compare.
    writeFile(dir, 'more.ndjson', ndjson(3000, 11).replaceAll('"ev-', '"more-'));
    expect(es(dir, ['import', 'more.ndjson']).code).toBe(0);
    const count = async () => (await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".recorded`)).rows[0]?.n ?? 0;
    for (const more of [20, 200, 100]) {
      const from = await count();
      const run = esBackground(dir, ['project', 'run', '--batch-size', '20']);
      let ended = false;
      void run.exited.then(() => (ended = true));
      const deadline = Date.now() + 30_000;
      while (!ended && (await count()) < from + more) {
        if (Date.now() > deadline) throw new Error(`the run recorded fewer than ${more} events in 30 s: ${run.output().stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      run.child.kill('SIGKILL');
      await run.exited;
    }
    // The dead holder's lease is released by pid check on this host.
    const finish = es(dir, ['project', 'run', '--json', '--wait', '40s']);
    expect(finish.code, finish.stderr).toBe(0);
    const rows = await recorded(schema);
    expect(rows.length).toBe(7000);
    expect(new Set(rows.map((r) => r.id)).size).toBe(7000);
  }, 120_000);

  it('bad connections: wrong password, unknown database, a silent server, a bad schema; the password is never printed', async () => {
    const dir = tempDir('es-pg-e2e-');
    const base = new URL(pgServerUrl());
    const wrong = new URL(base);
    wrong.username = 'nobody_here';
    wrong.password = 'Sup3rSecretPw';
    for (const args of [
      ['project', 'status'],
      ['project', 'status', '--verbose'],
      ['project', 'status', '--log-format', 'json'],
      ['append', 's', 'A'],
    ]) {
      const r = es(dir, ['--db', wrong.toString(), '--projections', dir, ...args]);
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr + r.stdout).not.toContain('Sup3rSecretPw');
    }
    const unknownDb = new URL(base);
    unknownDb.pathname = '/no_such_database_here';
    const missing = es(dir, ['--db', unknownDb.toString(), 'append', 's', 'A']);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/no_such_database_here.*does not exist/);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);

    // A server that accepts connections and never answers: exit 3 within about 10 s, no hang.
    const silent: Server = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    const started = Date.now();
    const hung = es(dir, ['--db', `postgres://u:Sup3rSecretPw@127.0.0.1:${port}/x`, 'read'], { timeoutMs: 30_000 });
    silent.close();
    expect(hung.code).toBe(3);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(hung.stderr).not.toContain('Sup3rSecretPw');

    // A statement_timeout es cannot work within (here: its store's table is locked by someone
    // else for longer): exit 3 saying so, in one line.
    const held = freshPgStore();
    schemas.push(held);
    expect(es(dir, ['--db', held.url, 'append', 's', 'A']).code).toBe(0);
    const locker = await admin.connect();
    try {
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE "${held.schema}".es_meta IN ACCESS EXCLUSIVE MODE`);
      const strict = new URL(held.url);
      strict.searchParams.set('options', '-c statement_timeout=300');
      const timedOut = es(dir, ['--db', strict.toString(), 'read']);
      expect(timedOut.code).toBe(3);
      expect(timedOut.stderr).toMatch(/statement_timeout/);
      expect(timedOut.stderr.trim().split('\n')).toHaveLength(1);
    } finally {
      await locker.query('ROLLBACK');
      locker.release();
    }

    const badSchema = new URL(base);
    badSchema.searchParams.set('schema', 'bad-name"; drop');
    expect(es(dir, ['--db', badSchema.toString(), 'append', 's', 'A']).code).toBe(2);
  }, 60_000);
});

describe('es on PostgreSQL when connections drop', () => {
  it('retries a run whose connections are terminated mid-batch: nothing lost, nothing doubled', async () => {
    const { dir, schema, url } = workspace();
    // Only this run's connections are cut: they carry a name of their own (the URL's application_name
    // beats the 'es' es gives its connections), so the tests running beside this one on the server
    // (workers, soak, other files' runs) keep theirs.
    const appName = `es-cut-${schema}`.slice(0, 63);
    const named = new URL(url);
    named.searchParams.set('application_name', appName);
    writeFile(dir, 'es.config.json', JSON.stringify({ db: named.toString() }));
    writeFile(dir, 'events.ndjson', ndjson(3000, 17));
    expect(es(dir, ['import', 'events.ndjson']).code).toBe(0);
    const run = esBackground(dir, ['project', 'run', '--batch-size', '25', '--verbose']);
    // Mid-run: once the read model has rows.
    for (let i = 0; i < 200; i++) {
      const { rows } = await admin.query(`SELECT to_regclass($1) AS t`, [`"${schema}".recorded`]);
      if (rows[0].t && (await recorded(schema)).length > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    let terminated = 0;
    const done = { value: false };
    void run.exited.then(() => (done.value = true));
    for (let round = 0; round < 8 && !done.value; round++) {
      await new Promise((resolve) => setTimeout(resolve, 150 + ((round * 37) % 200)));
      const { rowCount } = await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()`, [
        appName,
      ]);
      terminated += rowCount ?? 0;
    }
    const exit = await run.exited;
    console.log('connections dropped:', terminated, 'exit', exit.code, run.output().stderr.slice(0, 1500));
    expect(terminated).toBeGreaterThan(0);
    expect(exit.code, run.output().stderr).toBe(0);
    const after = await recorded(schema);
    expect(after.length).toBe(3000);
    expect(new Set(after.map((r) => r.id)).size).toBe(3000);
  }, 120_000);
});

describe('es demo on PostgreSQL', () => {
  it('writes the shop and runs the shipped PostgreSQL projections; the password is not printed', async () => {
    const fresh = freshPgStore();
    schemas.push(fresh);
    const url = new URL(fresh.url);
    // The demo's read-model tables are unqualified: keep them in this test's schema.
    url.searchParams.set('options', `-c search_path=${fresh.schema}`);
    if (!url.password) url.password = 'not-needed-with-trust';
    const dir = tempDir('es-pg-e2e-');
    const r = es(dir, ['--db', url.toString(), 'demo']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/15,900 new events/);
    expect(r.stdout).toMatch(/customer-activity up-to-date, daily-sales up-to-date, order-summary up-to-date/);
    expect(r.stdout + r.stderr).not.toContain(decodeURIComponent(url.password));
    const { rows } = await admin.query(`SELECT count(*)::int AS n FROM "${fresh.schema}".order_summary`);
    expect(rows[0].n).toBe(1703);
  }, 120_000);
});

describe('es on PostgreSQL: wait and signals', () => {
  it('wait blocks until a follower catches up; SIGINT mid-run exits 130 with its work checkpointed', async () => {
    const { dir, schema } = workspace();
    writeFile(dir, 'events.ndjson', ndjson(4000, 9));
    expect(es(dir, ['import', 'events.ndjson']).code).toBe(0);

    // SIGINT in the middle of a run: 130, and what it did is kept.
    const run = esBackground(dir, ['project', 'run', '--batch-size', '20']);
    for (let i = 0; i < 200; i++) {
      const { rows } = await admin.query('SELECT to_regclass($1) AS t', [`"${schema}".recorded`]);
      if (rows[0].t && (await recorded(schema)).length >= 100) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    run.child.kill('SIGINT');
    const stopped = await run.exited;
    expect(stopped.code).toBe(130);
    const partial = (await recorded(schema)).length;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(4000);
    const status = parseJson(es(dir, ['project', 'status', '--json']).stdout).projections[0];
    expect(status.lag).toBe(4000 - partial);

    // wait: times out while nothing runs, then returns once a follower has caught up.
    expect(es(dir, ['project', 'wait', '--timeout', '1s']).code).toBe(1);
    const follower = esBackground(dir, ['project', 'run', '--follow']);
    const waited = es(dir, ['project', 'wait', '--timeout', '60s'], { timeoutMs: 70_000 });
    expect(waited.code, waited.stderr).toBe(0);
    expect((await recorded(schema)).length).toBe(4000);
    follower.child.kill('SIGTERM');
    expect((await follower.exited).code).toBe(0);
  }, 120_000);
});
