/**
 * The soak of many workers: 3 workers share 6 projections while a writer appends throughout, and
 * workers are killed (-9, or SIGTERM) and restarted at random instants. Afterwards every read model
 * equals an uninterrupted run: exactly one ledger row per event of its types (a primary key per event
 * id turns a double application into a fault, which status would show).
 *
 * The schedule (who is killed when, how, and when restarted; the writer's pauses) is drawn from a
 * seed printed at the start of each case; ES_SOAK_SEED=<n> replays it. ES_SOAK_MS sets how long each
 * case kills and restarts workers (30 s by default; CI-length runs set it higher).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTempDirs, es, parseJson, readAll } from './helpers.js';
import { seedFrom, streams } from '../support/seeded.js';
import { PROJECTIONS, sleep, startWorker, until, workspace, type Backend, type Worker } from './workers-support.js';

const SOAK_MS = Number(process.env.ES_SOAK_MS ?? 30_000);
const started: Worker[] = [];

afterAll(() => {
  for (const w of started) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  cleanupTempDirs();
});

describe.each<Backend>(['sqlite', 'postgres'])('soak on %s', (backend) => {
  it(
    `3 workers, 6 projections, a writer, kill -9 and restarts for ${SOAK_MS / 1000}s: read models as after an uninterrupted run`,
    async () => {
      const seed = seedFrom('ES_SOAK_SEED', 'workers soak');
      // The writer's pauses and the kill schedule are drawn by two loops at once: a sequence each.
      const random = streams(seed, ['writer', 'kills']);
      const ws = await workspace(backend);
      try {
        const start = () => {
          const w = startWorker(ws.dir, { lease: '5s' });
          started.push(w);
          return w;
        };
        let live = [start(), start(), start()];
        let writing = true;
        let appended = 0;
        const writer = (async () => {
          while (writing) {
            await ws.append(5);
            appended += 5;
            await sleep(50 + random.writer() * 100);
          }
        })();
        const end = Date.now() + SOAK_MS;
        let kills = 0;
        let terms = 0;
        while (Date.now() < end) {
          await sleep(500 + random.kills() * 2500);
          const i = Math.floor(random.kills() * live.length);
          const victim = live[i] as Worker;
          if (random.kills() < 0.75) {
            victim.child.kill('SIGKILL');
            kills += 1;
          } else {
            victim.child.kill('SIGTERM');
            terms += 1;
          }
          await victim.exited;
          // Restarted at once or a little later, so a projection sometimes waits for a lease to run out.
          if (random.kills() < 0.5) await sleep(random.kills() * 3000);
          live = live.map((w) => (w === victim ? start() : w));
        }
        writing = false;
        await writer;
        const events = readAll(ws.dir);
        expect(events.length).toBe(appended);
        const expected = (types: string[]) => new Set(events.filter((e) => types.includes('*') || types.includes(e.type)).map((e) => e.id));
        await until(
          'every ledger to catch up',
          async () => {
            for (const [name, types] of Object.entries(PROJECTIONS)) if ((await ws.ledger(name)).size !== expected(types).size) return false;
            return true;
          },
          40_000,
          250,
        );
        for (const [name, types] of Object.entries(PROJECTIONS)) {
          const ledger = await ws.ledger(name);
          expect([...ledger.keys()].sort(), name).toEqual([...expected(types)].sort());
        }
        const status = es(ws.dir, ['project', 'status', '--json']);
        const report = parseJson(status.stdout);
        expect(report.projections.map((p: { state: string }) => p.state)).toEqual(Object.keys(PROJECTIONS).map(() => 'up-to-date'));
        expect(status.code).toBe(0);
        console.log(`soak on ${backend}: ${appended} events, ${kills} kill -9, ${terms} SIGTERM (seed ${seed})`);
        for (const w of live) w.child.kill('SIGTERM');
        const exits = await Promise.all(live.map((w) => w.exited));
        expect(exits.map((e) => e.code)).toEqual([0, 0, 0]);
      } finally {
        await ws.close();
      }
    },
    SOAK_MS + 90_000,
  );
});
