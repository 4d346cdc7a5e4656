// `es project run --follow` latency: from an append committing to the read model's write being
// visible to another connection (i.e. committed). Appends go on a fixed, jittered timeline so
// they do not lock step with the follower's polling; a 1 ms poller on a separate connection
// notes when each ping's row appears.
import { spawn } from 'node:child_process';
import Sqlite from 'better-sqlite3';
import { percentile } from './stats.js';
import { prng } from './prng.js';

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function measureFollow({ root, dbPath, appends, intervalMs, timeoutMs = 60_000, log }) {
  const { openSqliteStore } = await import(`${root}/dist/index.js`);
  const args = [`${root}/bin/es.js`, '--db', dbPath, '--projections', `${root}/bench/follow`, 'project', 'run', 'latency', '--follow'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.stdout.on('data', () => {});
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + timeoutMs;

  const watcher = new Sqlite(dbPath, { readonly: false, timeout: 5000 });
  const store = openSqliteStore(dbPath);
  try {
    // Ready once the follower has set up its table and written its first checkpoint.
    const ready = () => {
      try {
        return (
          watcher.prepare(`SELECT count(*) FROM events WHERE stream_id = '$checkpoint-latency'`).pluck().get() > 0 &&
          watcher.prepare(`SELECT count(*) FROM sqlite_master WHERE name = 'bench_latency'`).pluck().get() > 0
        );
      } catch {
        return false;
      }
    };
    while (!ready()) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the follower did not start:\n${stderr}`);
      await sleep(20);
    }
    const seen = watcher.prepare('SELECT n, handled_at FROM bench_latency WHERE n > ? ORDER BY n');
    const committedAt = new Map();
    const visibleAt = new Map();
    const handledAt = new Map();
    let lastSeen = -1;
    let polling = true;
    const poller = (async () => {
      while (polling || visibleAt.size < committedAt.size) {
        const t = now();
        for (const row of seen.all(lastSeen)) {
          visibleAt.set(row.n, t);
          handledAt.set(row.n, row.handled_at);
          lastSeen = row.n;
        }
        if (Date.now() > deadline) break;
        await sleep(1);
      }
    })();

    const rng = prng(7);
    const start = now() + 50;
    for (let n = 0; n < appends && Date.now() < deadline; n++) {
      // Fixed timeline: intervalMs apart on average, ±50 % jitter.
      const due = start + n * intervalMs + (rng.next() - 0.5) * intervalMs;
      const wait = due - now();
      if (wait > 0) await sleep(wait);
      store.appendSync(`ping-${n % 50}`, [{ type: 'Ping', data: { n, appendedAt: now() } }]);
      committedAt.set(n, now());
    }
    polling = false;
    await poller;
    const latencies = [];
    const handlerLatencies = [];
    for (const [n, t0] of committedAt) {
      if (!visibleAt.has(n)) continue;
      latencies.push(visibleAt.get(n) - t0);
      handlerLatencies.push(handledAt.get(n) - t0);
    }
    if (latencies.length < committedAt.size) log?.(`  follow: ${committedAt.size - latencies.length} pings never became visible`);
    return {
      appends: committedAt.size,
      observed: latencies.length,
      intervalMs,
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p99: percentile(latencies, 99),
      max: Math.max(...latencies),
      handlerP50: percentile(handlerLatencies, 50),
      handlerP99: percentile(handlerLatencies, 99),
    };
  } finally {
    await store.close();
    watcher.close();
    if (child.exitCode === null) child.kill('SIGTERM');
    const { code, signal } = await Promise.race([exited, sleep(10_000).then(() => ({ code: 'timeout' }))]);
    if (code === 'timeout') child.kill('SIGKILL');
    else if (code !== 0) log?.(`  follow: the follower exited ${code ?? signal}: ${stderr.trim().split('\n').pop()}`);
  }
}
