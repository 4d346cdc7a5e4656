/**
 * Many workers (CONTRACT "Many workers"): several `es project run --follow` processes share one
 * store's projections under fenced leases. Against a real PostgreSQL server and a SQLite file, with
 * the CLI spawned as processes.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTempDirs, es, parseJson, readAll } from './helpers.js';
import type { LeaseRow } from '../../src/ports/event-store.js';
import { PROJECTIONS, canSetHostName, spread, startWorker, until, workspace, type Backend, type Worker } from './workers-support.js';

const NAMES = Object.keys(PROJECTIONS);
const workers: Worker[] = [];
const hostNames = canSetHostName();
if (!hostNames) console.log('workers.test: unshare --uts cannot set a host name here (needs root): the different-hosts tests did not run');

afterAll(async () => {
  for (const w of workers) {
    if (w.child.exitCode !== null || w.child.signalCode !== null) continue;
    const pid = w.knownPid();
    if (pid !== null) await kill(pid, 'SIGKILL');
    w.child.kill('SIGKILL');
  }
  cleanupTempDirs();
});

function start(dir: string, options: Parameters<typeof startWorker>[1] = {}): Worker {
  const w = startWorker(dir, options);
  workers.push(w);
  return w;
}

async function kill(pid: number, signal: NodeJS.Signals): Promise<void> {
  try {
    process.kill(pid, signal);
  } catch {
    /* gone already */
  }
}

describe.each<Backend>(['sqlite', 'postgres'])('many workers on %s', (backend) => {
  it('spreads 6 projections over 3 workers, shows the owners in status, and hands over on SIGTERM in under a second', async () => {
    const ws = await workspace(backend);
    try {
      const ws3 = [start(ws.dir), start(ws.dir), start(ws.dir)];
      const pids = await Promise.all(ws3.map((w) => w.pid()));
      // Settled: every projection held, nobody above ⌈6/3⌉ + 1, and no lease moving for a whole second
      // (the same holder and token for each, looked at every 50 ms).
      const settled = (leases: LeaseRow[]) => {
        const by = spread(leases);
        return [...by.values()].flat().length === NAMES.length && [...by.values()].every((held) => held.length <= 3);
      };
      let holders = '';
      let since = 0;
      await until(
        'the spread to settle and stay for a second',
        async () => {
          const leases = await ws.leases();
          const now = settled(leases)
            ? JSON.stringify(
                leases
                  .filter((l) => l.live)
                  .map((l) => [l.name, l.owner.pid, l.token])
                  .sort(),
              )
            : '';
          if (now !== holders) [holders, since] = [now, Date.now()];
          return now !== '' && Date.now() - since >= 1000;
        },
        30_000,
      );
      const by = spread(await ws.leases());
      expect([...by.keys()].every((pid) => pids.includes(pid))).toBe(true);

      const status = es(ws.dir, ['project', 'status', '--json']);
      expect(status.code).toBe(0);
      const report = parseJson(status.stdout);
      for (const row of report.projections) {
        expect(row.owner).toMatchObject({ host: expect.any(String), since: expect.any(String), leaseExpiresAt: expect.any(String) });
        expect(pids).toContain(row.owner.pid);
        expect(Date.parse(row.owner.leaseExpiresAt)).toBeGreaterThan(Date.now());
      }
      const table = es(ws.dir, ['project', 'status']);
      expect(table.stdout).toMatch(/OWNER/);
      expect(table.stdout).toMatch(new RegExp(`${pids[0]}@`));
      const prom = es(ws.dir, ['project', 'status', '--format', 'prometheus']);
      expect(prom.stdout).toMatch(/es_workers 3/);
      expect(prom.stdout).toMatch(/es_projection_owner\{projection="p-a",host="[^"]+",pid="\d+"\} 1/);

      // SIGTERM: the projections of the stopping worker are held by the others in under a second.
      const [victimPid] = [...by.keys()];
      const victim = ws3[pids.indexOf(victimPid as number)] as Worker;
      const moving = by.get(victimPid as number) as string[];
      const sent = Date.now();
      victim.child.kill('SIGTERM');
      await until(
        'the hand-over',
        async () => {
          const now = spread(await ws.leases());
          return moving.every((name) => [...now.entries()].some(([pid, held]) => pid !== victimPid && held.includes(name)));
        },
        5000,
        10,
      );
      const handOver = Date.now() - sent;
      expect(handOver).toBeLessThan(1000);
      expect((await victim.exited).code).toBe(0);
      // And the successors work: new events reach every ledger.
      await ws.append(30);
      const events = readAll(ws.dir);
      await until('the successors to catch up', async () => (await ws.ledger('p-all')).size === events.length, 15_000);
      for (const w of ws3) w.child.kill('SIGTERM');
      await Promise.all(ws3.map((w) => w.exited));
    } finally {
      await ws.close();
    }
  }, 90_000);

  it('fences a worker paused past its lease: it commits nothing more, says it lost the lease, and stands by', async () => {
    const ws = await workspace(backend);
    try {
      const first = start(ws.dir, { lease: '5s', args: ['p-all'] });
      const firstPid = await first.pid();
      await until('the first worker to hold p-all', async () => spread(await ws.leases(), ['p-all']).has(firstPid), 10_000);
      const second = start(ws.dir, { lease: '5s', args: ['p-all'] });
      const secondPid = await second.pid();
      await ws.append(10);
      await until('the first worker to apply the events', async () => (await ws.ledger('p-all')).size >= 10, 10_000);

      process.kill(firstPid, 'SIGSTOP');
      const stoppedAt = Date.now();
      try {
        await until('the second worker to take over', async () => spread(await ws.leases(), ['p-all']).has(secondPid), 15_000);
        // The lease alone decided: the first process is alive (stopped), so no pid check could help.
        // Renewed every third of its 5 s, the lease ran out between 3.3 s and 5 s after the stop.
        expect(Date.now() - stoppedAt).toBeGreaterThan(3000);
        await ws.append(20);
        await until(
          'the second worker to commit',
          async () => [...(await ws.ledger('p-all')).values()].filter((pid) => pid === secondPid).length >= 20,
          15_000,
        );
      } finally {
        process.kill(firstPid, 'SIGCONT');
      }
      await until('the first worker to say it lost the lease', async () => /p-all: lost the lease/.test(first.stderr()), 10_000);
      const lostLine = first.lines.find((l) => /p-all: lost the lease/.test(l.text));
      expect(lostLine?.text).toMatch(/standing by/);
      await ws.append(20);
      await until('the second worker to apply the rest', async () => (await ws.ledger('p-all')).size >= 50, 15_000);
      // It still runs, standing by: when the second worker stops, it takes the projection again.
      expect(first.child.exitCode).toBeNull();
      second.child.kill('SIGTERM');
      await until('the first worker to take p-all again', async () => spread(await ws.leases(), ['p-all']).has(firstPid), 5000);
      // A worker takes only what it no longer holds: the stint it was paused in has ended, so anything
      // it could still have committed under the lost lease would be in the ledger by now. Nothing was:
      // exactly 10 of its rows, all from before the takeover (nothing new to apply since).
      const ledger = await ws.ledger('p-all');
      expect(ledger.size).toBe(50);
      expect([...ledger.values()].filter((pid) => pid === firstPid).length).toBe(10);
      const status = parseJson(es(ws.dir, ['project', 'status', 'p-all', '--json']).stdout);
      expect(status.projections[0].state).toBe('up-to-date');
      first.child.kill('SIGTERM');
      await Promise.all([first.exited, second.exited]);
    } finally {
      await ws.close();
    }
  }, 90_000);

  it.skipIf(!hostNames)(
    'on different hosts, a worker killed with -9 loses its projections when its lease runs out, not before',
    async () => {
      const ws = await workspace(backend, ['p-a', 'p-b']);
      try {
        const h1 = start(ws.dir, { lease: '5s', host: 'es-host-1' });
        const h1Pid = await h1.pid();
        await until('host 1 to hold both', async () => (spread(await ws.leases(), ['p-a', 'p-b']).get(h1Pid)?.length ?? 0) === 2, 10_000);
        const h2 = start(ws.dir, { lease: '5s', host: 'es-host-2' });
        const h2Pid = await h2.pid();
        // Settled at one each.
        await until('one each', async () => (spread(await ws.leases(), ['p-a', 'p-b']).get(h2Pid)?.length ?? 0) === 1, 15_000);
        const leases = await ws.leases();
        expect(new Set(leases.filter((l) => l.live).map((l) => l.owner.host))).toEqual(new Set(['es-host-1', 'es-host-2']));
        const killedAt = Date.now();
        await kill(h1Pid, 'SIGKILL');
        await until('host 2 to take both', async () => (spread(await ws.leases(), ['p-a', 'p-b']).get(h2Pid)?.length ?? 0) === 2, 15_000);
        const after = Date.now() - killedAt;
        // Not at once (another host's pid means nothing here), and within the lease and a second or so.
        expect(after).toBeGreaterThan(2500);
        expect(after).toBeLessThan(5000 + 2000);
        await ws.append(12);
        await until('host 2 to apply the events', async () => (await ws.ledger('p-a')).size === 4 && (await ws.ledger('p-b')).size === 4, 10_000);
        // Under unshare the es process is a child of the spawned one: signalled by its own pid.
        process.kill(h2Pid, 'SIGTERM');
        await h2.exited;
      } finally {
        await ws.close();
      }
    },
    60_000,
  );
});

describe('many workers: flags, cron and health', () => {
  it('refuses a --lease below 5s, or not a duration, with exit 2', async () => {
    const ws = await workspace('sqlite', ['p-a']);
    try {
      for (const cmd of [
        ['project', 'run', '--follow'],
        ['project', 'rebuild', 'p-a'],
        ['project', 'replay-from', 'p-a', '1'],
      ]) {
        const short = es(ws.dir, [...cmd, '--lease', '4s']);
        expect(short.code).toBe(2);
        expect(short.stderr).toMatch(/--lease: at least 5s/);
        expect(es(ws.dir, [...cmd, '--lease', 'soon']).code).toBe(2);
      }
    } finally {
      await ws.close();
    }
  });

  it('leaves a projection a worker holds to it: cron exits 75 naming the holder; status calls an unheld one with events waiting unhealthy only while workers run', async () => {
    const ws = await workspace('sqlite', ['p-a', 'p-b']);
    try {
      // Both have run once (cron): neither is never-run.
      await ws.append(3);
      expect(es(ws.dir, ['project', 'run']).code).toBe(0);
      const worker = start(ws.dir, { args: ['p-a'] });
      const pid = await worker.pid();
      await until('the worker to hold p-a', async () => spread(await ws.leases(), ['p-a']).has(pid), 10_000);
      const cron = es(ws.dir, ['project', 'run', 'p-a']);
      expect(cron.code).toBe(75);
      expect(cron.stderr).toMatch(new RegExp(`p-a is being run by pid ${pid}`));
      await ws.append(6);
      const as = readAll(ws.dir).filter((e) => e.type === 'A').length;
      await until('p-a to catch up', async () => (await ws.ledger('p-a')).size === as, 10_000);
      // p-b is in no worker's set: with a worker running, its waiting events make it unhealthy.
      const status = es(ws.dir, ['project', 'status']);
      expect(status.code).toBe(1);
      expect(status.stdout).toMatch(/p-b: \d+ events? waiting and no worker holds it \(1 worker running\)/);
      const json = parseJson(es(ws.dir, ['project', 'status', '--json']).stdout);
      expect(json.projections.find((p: { name: string }) => p.name === 'p-b').owner).toBeNull();
      worker.child.kill('SIGTERM');
      expect((await worker.exited).code).toBe(0);
      // No worker registered any more (cron set-up): behind between runs is healthy, as before.
      const after = es(ws.dir, ['project', 'status', '--json']);
      expect(after.code).toBe(0);
      expect(parseJson(after.stdout).projections.map((p: { owner: unknown }) => p.owner)).toEqual([null, null]);
    } finally {
      await ws.close();
    }
  }, 60_000);
});
