/**
 * Many workers on PostgreSQL with batches that take seconds (a handler doing pg_sleep per event):
 * a holder stopped or cut off mid-batch does not keep its projection from the others past its lease,
 * and commits nothing after losing it; a lone worker whose batches last longer than its lease keeps
 * it. The CLI spawned as processes, a real server, and a TCP proxy of the test's own that can go
 * silent (a partition: nothing forwarded, nothing closed).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/drivers/open-store.js';
import type { EventStore } from '../../src/ports/event-store.js';
import { cleanupTempDirs, es, tempDir, writeFile } from './helpers.js';
import { canSetHostName, spread, startWorker, until, type Worker } from './workers-support.js';
import { freshPgStore, pgServerUrl } from '../support/pg.js';
import { canStartClusters, clustersMissing, startCluster, type Cluster } from '../support/pg-clusters.js';

const LEASE_MS = 5000;
const workers: Worker[] = [];
const cleanups: (() => Promise<void>)[] = [];
// A holder stopped or cut off mid-batch keeps its transaction open for up to its lease, which holds
// back every reader of the server (the horizon is the cluster's): on a cluster of its own where the
// server programs are installed, so the tests of other files running meanwhile do not wait for it.
let cluster: Cluster | undefined;
const server = (): string => cluster?.url('postgres') ?? pgServerUrl();
beforeAll(async () => {
  if (canStartClusters) cluster = await startCluster();
  else process.stderr.write(`PostgreSQL fencing tests run on the shared test server, not a cluster of their own: ${clustersMissing}\n`);
}, 60_000);
afterAll(async () => {
  for (const w of workers) {
    const pid = w.knownPid();
    if (pid !== null) signal(pid, 'SIGCONT');
    w.child.kill('SIGKILL');
  }
  for (const c of cleanups.reverse()) await c().catch(() => {});
  cluster?.stop();
  cleanupTempDirs();
});

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    /* gone already */
  }
}

interface Setup {
  dir: string;
  url: string;
  store: EventStore<unknown>;
  /** Every applied row: event id and the pid of the worker that applied it (committed rows only). */
  applied(): Promise<{ event_id: string; pid: number }[]>;
  /** Whether a worker is inside a batch: a session of this schema's handler, its transaction open. */
  midBatch(): Promise<boolean>;
  append(n: number): Promise<void>;
}

/** A store in a fresh schema and one projection, "slow", whose handler sleeps `seconds` on the server per event. */
async function setup(seconds: number): Promise<Setup> {
  const fresh = freshPgStore(server());
  const dir = tempDir('es-pg-fence-');
  const t = `"${fresh.schema}".applied`;
  writeFile(dir, 'es.config.json', JSON.stringify({ db: fresh.url }));
  writeFile(
    dir,
    'projections/slow.mjs',
    `export default {
  name: 'slow',
  async setup(db) { await db.query('CREATE TABLE IF NOT EXISTS ${t} (event_id text NOT NULL, pid integer NOT NULL)'); },
  async reset(db) { await db.query('DELETE FROM ${t}'); },
  handlers: { async T(event, db) {
    await db.query('SELECT pg_sleep(${seconds}) /* ${fresh.schema} */');
    await db.query('INSERT INTO ${t} VALUES ($1, $2)', [event.id, process.pid]);
  } },
};
`,
  );
  const store = await openStore(fresh.url, { create: true });
  const admin = new pg.Client({ connectionString: server() });
  await admin.connect();
  cleanups.push(async () => {
    await store.close();
    await admin.end();
    await fresh.drop();
  });
  // The projection's table exists before workers start.
  const first = es(dir, ['project', 'run']);
  if (first.code !== 0) throw new Error(`first run failed (${first.code}): ${first.stderr}`);
  let n = 0;
  return {
    dir,
    url: fresh.url,
    store,
    applied: async () => (await admin.query<{ event_id: string; pid: number }>(`SELECT event_id, pid FROM ${t}`)).rows,
    midBatch: async () => {
      const { rows } = await admin.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE $1 AND state IN ('active', 'idle in transaction') AND pid <> pg_backend_pid()`,
        [`%pg_sleep%${fresh.schema}%`],
      );
      return rows[0].n > 0;
    },
    append: async (count) => {
      await store.appendMany(Array.from({ length: count }, () => ({ streamId: `s-${(n += 1) % 5}`, type: 'T', data: { n } })));
    },
  };
}

function start(dir: string, args: string[], options: { env?: Record<string, string>; host?: string } = {}): Worker {
  const w = startWorker(dir, { lease: `${LEASE_MS / 1000}s`, args, ...options });
  workers.push(w);
  return w;
}

const holds = (s: Setup, pid: number) => async () => spread(await s.store.leases(), ['slow']).has(pid);
const countBy = (rows: { pid: number }[], pid: number) => rows.filter((r) => r.pid === pid).length;

/**
 * A TCP proxy that can go silent: forwarding stops and every connection is left open, as behind a
 * partition or a frozen link; neither side hears of anything.
 */
class SilentProxy {
  private readonly sockets: Socket[] = [];
  private frozen = false;
  private constructor(private readonly server: Server) {}

  static async start(target: { host: string; port: number }): Promise<SilentProxy> {
    const server = createServer();
    const proxy = new SilentProxy(server);
    server.on('connection', (client) => proxy.pair(client, target));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  private pair(client: Socket, target: { host: string; port: number }): void {
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      this.sockets.push(s);
      s.on('error', () => {});
    }
    if (this.frozen) return this.freeze();
    client.pipe(upstream, { end: false });
    upstream.pipe(client, { end: false });
    // Ends are passed on only while the link works: a silent link tells the other side nothing.
    client.on('close', () => this.frozen || upstream.destroy());
    upstream.on('close', () => this.frozen || client.destroy());
  }

  freeze(): void {
    this.frozen = true;
    for (const s of this.sockets) {
      s.unpipe();
      s.pause();
    }
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

describe('many workers on PostgreSQL, batches of seconds', () => {
  it('a holder stopped mid-batch: another worker takes over within the lease and a second, and the stopped one commits nothing after', async () => {
    const s = await setup(0.05);
    const a = start(s.dir, ['--batch-size', '100']);
    const aPid = await a.pid();
    await until('the first worker to hold the projection', holds(s, aPid), 15_000);
    const b = start(s.dir, ['--batch-size', '100']);
    const bPid = await b.pid();
    await s.append(150);
    await until('the first worker to be inside a batch', () => s.midBatch(), 30_000, 20);
    signal(aPid, 'SIGSTOP');
    const stoppedAt = Date.now();
    let aRows: number;
    try {
      await until('the second worker to take over', holds(s, bPid), 20_000);
      const tookOverAfter = Date.now() - stoppedAt;
      aRows = countBy(await s.applied(), aPid);
      // The lease alone decides (renewed every third of it, it ran out 3.3-5 s after the stop); the
      // stopped holder's open batch keeps nothing: not the lease row, not the checkpoint's next version.
      expect(tookOverAfter).toBeLessThan(LEASE_MS + 2500);
      await until('the second worker to commit', async () => countBy(await s.applied(), bPid) > 0, 20_000);
    } finally {
      signal(aPid, 'SIGCONT');
    }
    await until('the first worker to say it lost the lease', async () => /slow: lost the lease/.test(a.stderr()), 20_000);
    await until('every event applied', async () => new Set((await s.applied()).map((r) => r.event_id)).size === 150, 60_000);
    const rows = await s.applied();
    // Nothing committed by the stopped holder after the takeover, and every event applied once.
    expect(countBy(rows, aPid)).toBe(aRows);
    expect(rows.length).toBe(150);
    // Standing by, not faulted.
    expect(a.child.exitCode).toBeNull();
    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    await Promise.all([a.exited, b.exited]);
  }, 150_000);

  it('a lone worker whose batches last longer than its lease keeps it: no lease lost, no takeover', async () => {
    const s = await setup(0.1);
    // Batches of 60 events at 0.1 s each: over 6 s, on a 5 s lease.
    const a = start(s.dir, ['--batch-size', '60']);
    const aPid = await a.pid();
    await until('the worker to hold the projection', holds(s, aPid), 15_000);
    const token = (await s.store.leases()).find((l) => l.name === 'slow')?.token;
    await s.append(120);
    await until('every event applied', async () => new Set((await s.applied()).map((r) => r.event_id)).size === 120, 90_000, 200);
    expect(a.stderr()).not.toMatch(/lost the lease|ran out/);
    const lease = (await s.store.leases()).find((l) => l.name === 'slow');
    expect(lease).toMatchObject({ token, live: true, owner: { pid: aPid } });
    expect((await s.applied()).length).toBe(120);
    a.child.kill('SIGTERM');
    await a.exited;
  }, 150_000);

  it('a holder cut off mid-batch (a silent link), then killed with -9: another worker takes over within the lease and a second', async () => {
    const s = await setup(0.05);
    const target = new URL(server());
    const proxy = await SilentProxy.start({ host: target.hostname, port: Number(target.port || 5432) });
    cleanups.push(() => proxy.close());
    const viaProxy = new URL(s.url);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    // Under another host name where it can be: its pid then means nothing to the others, and only
    // the lease frees the projection.
    const a = start(s.dir, ['--batch-size', '100'], { env: { ES_DB: viaProxy.toString() }, host: canSetHostName() ? 'es-cut-off' : undefined });
    const aPid = await a.pid();
    await until('the worker behind the proxy to hold the projection', holds(s, aPid), 15_000);
    const b = start(s.dir, ['--batch-size', '100']);
    const bPid = await b.pid();
    await s.append(150);
    await until('the first worker to be inside a batch', () => s.midBatch(), 30_000, 20);
    proxy.freeze();
    signal(aPid, 'SIGKILL');
    const killedAt = Date.now();
    await until('the second worker to take over', holds(s, bPid), 20_000);
    expect(Date.now() - killedAt).toBeLessThan(LEASE_MS + 2500);
    await until('every event applied', async () => new Set((await s.applied()).map((r) => r.event_id)).size === 150, 60_000);
    expect((await s.applied()).length).toBe(150);
    b.child.kill('SIGTERM');
    await b.exited;
  }, 150_000);
});
