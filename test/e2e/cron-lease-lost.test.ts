/**
 * A cron run (`es project run`, no --follow) of two projections on PostgreSQL loses one lease
 * mid-run: another process takes it over. That projection stops committing and is reported
 * `locked` with why; the other runs to the end and is reported as it is; the exit is 75.
 */
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTempDirs, es, esBackground, parseJson, tempDir, writeFile } from './helpers.js';
import { freshPgStore, pgServerUrl } from '../support/pg.js';

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c().catch(() => {});
  cleanupTempDirs();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const EVENTS = 120;

/** A projection that takes 15 ms an event and records each under a primary key (a second application fails). */
function slowProjection(schema: string, name: string): string {
  const t = `"${schema}".seen_${name.replace(/-/g, '_')}`;
  return `export default {
  name: '${name}',
  async setup(db) { await db.query('CREATE TABLE IF NOT EXISTS ${t} (event_id text PRIMARY KEY)'); },
  async reset(db) { await db.query('DELETE FROM ${t}'); },
  handlers: { async T(event, db) {
    await new Promise((resolve) => setTimeout(resolve, 15));
    await db.query('INSERT INTO ${t} VALUES ($1)', [event.id]);
  } },
};
`;
}

describe('a cron run that loses one lease mid-run (PostgreSQL)', () => {
  it('stops that projection, reports it locked, finishes the other; exit 75', async () => {
    const fresh = freshPgStore();
    cleanups.push(fresh.drop);
    const dir = tempDir('es-cron-lease-');
    writeFile(dir, 'es.config.json', JSON.stringify({ db: fresh.url, batchSize: 10 }));
    writeFile(dir, 'projections/first.mjs', slowProjection(fresh.schema, 'first'));
    writeFile(dir, 'projections/second.mjs', slowProjection(fresh.schema, 'second'));
    const lines = Array.from({ length: EVENTS }, (_, i) => JSON.stringify({ streamId: `s-${i % 7}`, type: 'T', data: { i } }));
    expect(es(dir, ['import', '-'], { input: lines.join('\n') }).code).toBe(0);

    const admin = new pg.Client({ connectionString: pgServerUrl() });
    await admin.connect();
    cleanups.push(() => admin.end());
    const checkpointOf = async (name: string): Promise<number> => {
      const { rows } = await admin.query(
        `SELECT (data->>'position')::int AS p FROM "${fresh.schema}".events WHERE stream_id = $1 ORDER BY version DESC LIMIT 1`,
        [`$checkpoint-${name}`],
      );
      return rows[0]?.p ?? 0;
    };

    // Projections of one run go one after the other on PostgreSQL: "first", then "second".
    const run = esBackground(dir, ['project', 'run', '--lease', '5s', '--json']);
    for (let i = 0; i < 400 && (await checkpointOf('first')) === 0; i++) await sleep(25);
    expect(await checkpointOf('first')).toBeGreaterThan(0);
    // Another process takes "first" over: a new holder and a larger token, as a takeover writes them.
    // The run's next commit of "first" is fenced; its lease renewal (every 1.7 s) then fails too, which
    // must not stop "second" (about 1.8 s of work).
    await admin.query(
      `UPDATE "${fresh.schema}".es_locks SET owner_id = 'thief', pid = 1, host = 'elsewhere', token = token + 1, expires_at = $2 WHERE name = $1`,
      ['first', Date.now() + 60_000],
    );
    const stolenAt = await checkpointOf('first');
    const { code } = await run.exited;
    const { stdout, stderr } = run.output();
    expect(code, stderr).toBe(75);
    const report = parseJson(stdout).projections as { name: string; state: string; processed: number; error: unknown }[];
    const first = report.find((p) => p.name === 'first');
    const second = report.find((p) => p.name === 'second');
    expect(first).toMatchObject({ state: 'locked', error: { message: expect.stringMatching(/lost the lease|taken over/) } });
    expect(second).toMatchObject({ state: 'up-to-date', processed: EVENTS, error: null });
    // Nothing of "first" committed after the takeover: the UPDATE waited for a commit under way (its
    // fence and COMMIT are one message, the lease row locked FOR SHARE), and every later commit was fenced.
    const end = await checkpointOf('first');
    expect(end).toBeLessThan(EVENTS);
    expect(end).toBe(stolenAt);
    const seen = await admin.query(`SELECT count(*)::int AS n FROM "${fresh.schema}".seen_first`);
    expect(seen.rows[0].n).toBe(end);
  }, 60_000);
});
