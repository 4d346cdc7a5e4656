/**
 * A PostgreSQL store moved to another cluster (pg_dump, restore), where the transaction counter is
 * behind the source's, then moved again: appends to old streams, imports, runs from the checkpoints
 * and rebuilds all work, nothing is skipped or doubled, and each stream is seen in version order.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cleanupTempDirs, es, esBackground, jsonLines, parseJson, tempDir, writeFile } from './helpers.js';
import { describeClusters, moveDatabase, startCluster, upgradeCluster, type Cluster } from '../support/pg-clusters.js';

/** Records each event once (a primary key per id) and faults on a stream version out of order. */
const ORDERLY = `export default {
  name: 'orderly',
  async setup(db) {
    await db.query('CREATE TABLE IF NOT EXISTS public.seen (id text PRIMARY KEY, stream text NOT NULL, version int NOT NULL, position bigint NOT NULL)');
  },
  async reset(db) { await db.query('DELETE FROM public.seen'); },
  handlers: {
    async '*'(event, db) {
      const { rows } = await db.query('SELECT coalesce(max(version), 0) AS v FROM public.seen WHERE stream = $1', [event.streamId]);
      if (Number(rows[0].v) !== event.version - 1) throw new Error('out of order: ' + event.streamId + ' v' + event.version + ' after v' + rows[0].v);
      await db.query('INSERT INTO public.seen VALUES ($1, $2, $3, $4)', [event.id, event.streamId, event.version, event.position]);
    },
  },
};
`;

const clusters: Cluster[] = [];
let dir: string;

function on(cluster: Cluster, database: string, args: string[], input?: string) {
  return es(dir, ['--db', cluster.url(database), ...args], input === undefined ? {} : { input });
}

function ndjson(prefix: string, streams: number, perStream: number): string {
  const lines: string[] = [];
  for (let v = 0; v < perStream; v++) for (let s = 0; s < streams; s++) lines.push(JSON.stringify({ streamId: `${prefix}-${s}`, type: 'Tick', data: { v } }));
  return `${lines.join('\n')}\n`;
}

async function seen(cluster: Cluster, database: string): Promise<{ count: number; distinct: number }> {
  const client = new pg.Client({ connectionString: cluster.url(database) });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string; d: string }>('SELECT count(*) AS n, count(DISTINCT id) AS d FROM public.seen');
    return { count: Number(rows[0]?.n), distinct: Number(rows[0]?.d) };
  } finally {
    await client.end();
  }
}

/** Appends to old and new streams, imports, runs, checks: all events seen once, in stream order. */
async function useAfterMove(cluster: Cluster, database: string, round: string): Promise<number> {
  const appended = on(cluster, database, ['append', 's-1', 'Tick', '{}']);
  expect(appended.stderr).toBe('');
  expect(appended.code).toBe(0);
  expect(on(cluster, database, ['append', `fresh-${round}`, 'Tick', '{}']).code).toBe(0);
  const imported = on(cluster, database, ['import', '-'], ndjson('s', 3, 5).replace(/"s-/g, `"s-`) + ndjson(`imp-${round}`, 2, 2));
  expect(imported.stderr).not.toMatch(/error|newer/i);
  expect(imported.code).toBe(0);
  const run = on(cluster, database, ['project', 'run', '--json']);
  expect(run.stderr).not.toMatch(/out of order|ahead of this server|rebuild/);
  expect(run.code).toBe(0);
  const status = parseJson(on(cluster, database, ['project', 'status', '--json']).stdout);
  expect(status.healthy).toBe(true);
  expect(status.projections[0].lag).toBe(0);
  const total = jsonLines(on(cluster, database, ['read', '--json']).stdout).length;
  expect(await seen(cluster, database)).toEqual({ count: total, distinct: total });
  // The old stream reads in version order, its new events after the old.
  const versions = jsonLines(on(cluster, database, ['read', '--stream', 's-1', '--json']).stdout).map((e) => e.version);
  expect(versions).toEqual(versions.map((_, i) => i + 1));
  return total;
}

describeClusters('a PostgreSQL store moved to another cluster', () => {
  beforeAll(async () => {
    dir = tempDir('es-move-');
    writeFile(dir, 'projections/orderly.mjs', ORDERLY);
    // The source has used many more transaction ids than the fresh clusters it moves to.
    clusters.push(await startCluster({ burnXids: 3000 }), await startCluster(), await startCluster(), await startCluster({ burnXids: 500 }));
  }, 120_000);
  afterAll(() => {
    for (const cluster of clusters) cluster.stop();
    cleanupTempDirs();
  });

  it('appends, imports, runs and rebuilds after a move and a second move, in stream order', async () => {
    const [source, first, second] = clusters as [Cluster, Cluster, Cluster];
    source.sql('postgres', 'CREATE DATABASE shop');
    for (let i = 0; i < 3; i++) expect(on(source, 'shop', ['append', 's-1', 'Tick', '{}']).code).toBe(0);
    expect(on(source, 'shop', ['import', '-'], ndjson('s', 3, 20)).code).toBe(0);
    expect(on(source, 'shop', ['project', 'run']).code).toBe(0);
    const before = (await seen(source, 'shop')).count;

    moveDatabase(source, 'shop', first, 'shop');
    const afterFirst = await useAfterMove(first, 'shop', 'one');
    expect(afterFirst).toBeGreaterThan(before);

    const rebuilt = on(first, 'shop', ['project', 'rebuild', '--all', '--json']);
    expect(rebuilt.code).toBe(0);
    expect(parseJson(rebuilt.stdout).projections[0].processed).toBe(afterFirst);
    expect(await seen(first, 'shop')).toEqual({ count: afterFirst, distinct: afterFirst });

    // Again, to a cluster whose counter is behind the offset's, where the first processes to open
    // it are four appends at once to an old stream; then once more to a cluster far ahead.
    moveDatabase(first, 'shop', second, 'shop');
    const racers = Array.from({ length: 4 }, () => esBackground(dir, ['--db', second.url('shop'), 'append', 's-2', 'Tick', '{}']));
    for (const racer of racers) expect({ ...(await racer.exited), stderr: racer.output().stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    const afterSecond = await useAfterMove(second, 'shop', 'two');
    expect(afterSecond).toBeGreaterThan(afterFirst);
    moveDatabase(second, 'shop', source, 'shop_back');
    await useAfterMove(source, 'shop_back', 'three');
  }, 180_000);

  it('pg_upgrade keeps the transaction counter, and the store goes on as it was', async () => {
    const upgraded = clusters[3] as Cluster;
    upgraded.sql('postgres', 'CREATE DATABASE shop');
    for (let i = 0; i < 3; i++) expect(on(upgraded, 'shop', ['append', 's-1', 'Tick', '{}']).stderr).toBe('');
    expect(on(upgraded, 'shop', ['project', 'run']).code).toBe(0);
    const meta = () => upgraded.sql('shop', "SELECT value FROM es.es_meta WHERE key = 'xact_offset'").trim();
    expect(meta()).toBe('0');
    upgradeCluster(upgraded);
    await useAfterMove(upgraded, 'shop', 'upgraded');
    expect(meta()).toBe('0');
  }, 180_000);

  it('where the role may not ask which cluster it is on, the store works as before (moves are not detected)', async () => {
    const cluster = clusters[1] as Cluster;
    cluster.sql('postgres', 'REVOKE EXECUTE ON FUNCTION pg_control_system() FROM PUBLIC');
    cluster.sql('postgres', 'CREATE ROLE app LOGIN');
    cluster.sql('postgres', 'CREATE DATABASE appdb OWNER app');
    const url = cluster.url('appdb').replace('postgres@', 'app@');
    for (let i = 0; i < 3; i++) expect(es(dir, ['--db', url, 'append', 's-1', 'Tick', '{}']).stderr).toBe('');
    const run = es(dir, ['--db', url, 'project', 'run', '--json']);
    expect(run.stderr).toBe('');
    expect(parseJson(run.stdout).projections[0].processed).toBe(3);
  }, 60_000);
});
