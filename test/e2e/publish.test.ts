import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ensureHandledTable, recordMessage } from '../../src/index.js';
import { afterAll, describe, expect, it } from 'vitest';
import { seedFrom, streams } from '../support/seeded.js';
import { AMQP_URL, NATS_URL, checkStreamOrder, jetStreamFor, rabbitFor, relay, sayNotRun, uniqueName, type Received } from '../support/brokers.js';
import { checkpointEvents, cleanupTempDirs, es, esBackground, parseJson, readAll, tempDir, waitFor, writeFile } from './helpers.js';

afterAll(cleanupTempDirs);

if (!NATS_URL) sayNotRun('NATS JetStream', 'ES_TEST_NATS_URL');
if (!AMQP_URL) sayNotRun('RabbitMQ', 'ES_TEST_AMQP_URL');

/** One broker under test: where es publishes, and what the test reads back. */
interface Rig {
  publish(port?: number): Record<string, string>;
  messages(): Promise<Received[]>;
  drop(): Promise<void>;
}

async function natsRig(extra: { max_msg_size?: number } = {}): Promise<Rig> {
  const prefix = uniqueName('estest');
  const stream = await jetStreamFor(NATS_URL as string, [`${prefix}.>`], extra);
  const url = new URL(NATS_URL as string);
  return {
    publish: (port) => ({ to: `nats://127.0.0.1:${port ?? url.port}`, subject: `${prefix}.{type}` }),
    messages: () => stream.messages(),
    drop: () => stream.drop(),
  };
}

async function rabbitRig(): Promise<Rig> {
  const rabbit = await rabbitFor(AMQP_URL as string);
  const url = new URL(AMQP_URL as string);
  return {
    publish: (port) => ({
      to: `amqp://${url.username}:${url.password}@127.0.0.1:${port ?? url.port}`,
      exchange: rabbit.exchange,
      routingKey: '{streamId}.{type}',
    }),
    messages: () => rabbit.drain(),
    drop: () => rabbit.drop(),
  };
}

function projectionFile(dir: string, name: string, publish: Record<string, string>): void {
  writeFile(dir, `projections/${name}.mjs`, `export default { publish: ${JSON.stringify(publish)} };\n`);
}

/** `count` events over `streams` streams, interleaved, imported in one go. */
function importEvents(dir: string, count: number, streams: number, big?: { at: number; bytes: number }): void {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const data: Record<string, unknown> = { i };
    if (big && i === big.at) data.pad = 'x'.repeat(big.bytes);
    lines.push(JSON.stringify({ streamId: `acct-${i % streams}`, type: i % 3 === 0 ? 'Opened' : 'Moved', data }));
  }
  const r = es(dir, ['import', '-', '--format', 'ndjson'], { input: `${lines.join('\n')}\n`, timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`import failed: ${r.stderr}`);
}

const lastCheckpointPosition = (dir: string, name: string): number => {
  const events = checkpointEvents(dir, name);
  return (events[events.length - 1]?.data.position as number | undefined) ?? 0;
};

interface Usage {
  /** When it was read (performance.now()). */
  at: number;
  /** CPU time of every thread: utime + stime of /proc/<pid>/stat, in ticks of 10 ms. */
  cpuMs: number;
}

function usageOf(pid: number): Usage {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return { at: performance.now(), cpuMs: (Number(fields[11]) + Number(fields[12])) * 10 };
}

const brokers = [
  { broker: 'NATS JetStream', url: NATS_URL, rig: natsRig },
  { broker: 'RabbitMQ', url: AMQP_URL, rig: rabbitRig },
];

for (const { broker, url, rig } of brokers) {
  describe.skipIf(!url)(`publishing to ${broker}`, () => {
    it('sends each event as read --json prints it, with its id as message id and its headers, then checkpoints', async () => {
      const target = await rig();
      try {
        const dir = tempDir('es-pub-');
        projectionFile(dir, 'outbox', target.publish());
        importEvents(dir, 30, 4);
        const run = es(dir, ['project', 'run', '--json']);
        expect(run.stderr).toBe('');
        expect(run.code).toBe(0);
        expect(parseJson(run.stdout).projections[0]).toMatchObject({ name: 'outbox', processed: 30, state: 'up-to-date' });
        const stored = readAll(dir);
        const got = await target.messages();
        expect(got.map((m) => m.body)).toEqual(stored);
        expect(got.map((m) => m.id)).toEqual(stored.map((e) => e.id));
        const first = got[0] as Received;
        expect(first.headers).toMatchObject({
          'Es-Position': String(stored[0]?.position),
          'Es-Stream': stored[0]?.streamId,
          'Es-Version': '1',
          'Es-Type': 'Opened',
        });
        expect(first.subject).toContain('Opened');
        expect(lastCheckpointPosition(dir, 'outbox')).toBe(stored[stored.length - 1]?.position);

        // A rebuild publishes again: refused without --republish, and nothing moves.
        const refused = es(dir, ['project', 'rebuild', 'outbox']);
        expect(refused.code).toBe(2);
        expect(refused.stderr).toMatch(/would publish the events of outbox .* again.*--republish/);
        expect(es(dir, ['project', 'replay-from', 'outbox', '5']).code).toBe(2);
        expect(lastCheckpointPosition(dir, 'outbox')).toBe(stored[stored.length - 1]?.position);
        const again = es(dir, ['project', 'rebuild', 'outbox', '--republish']);
        expect(again.code).toBe(0);
        const republished = await target.messages();
        // RabbitMQ's queue gets the 30 again; JetStream's duplicate window keeps its stream at the same 30.
        expect(republished.map((m) => m.id)).toEqual(stored.map((e) => e.id));

        const status = parseJson(es(dir, ['project', 'status', '--json']).stdout);
        expect(status.projections[0].publish).toMatch(broker === 'RabbitMQ' ? /^amqp:\/\/.*:\*\*\*@127/ : /^nats:\/\//);
        expect(JSON.stringify(status)).not.toContain(':guest@');
      } finally {
        await target.drop();
      }
    });

    it('handlers run beside the publishing, in the batch transaction, and get context.replaying after a rebuild', async () => {
      const target = await rig();
      try {
        const dir = tempDir('es-pub-handlers-');
        const publish = JSON.stringify(target.publish());
        writeFile(
          dir,
          'projections/outbox.mjs',
          `export default {
  publish: ${publish},
  setup(db) { db.exec('CREATE TABLE IF NOT EXISTS seen (id TEXT, replaying INTEGER)'); },
  reset(db) { db.exec('DELETE FROM seen'); },
  handlers: { Opened(event, db, context) { db.prepare('INSERT INTO seen VALUES (?, ?)').run(event.id, context.replaying ? 1 : 0); } },
  events: ['Opened', 'Moved'],
};
`,
        );
        importEvents(dir, 9, 3);
        expect(es(dir, ['project', 'run']).code).toBe(0);
        const seen = () => {
          const db = new Database(join(dir, '.es/events.db'), { readonly: true });
          try {
            return db.prepare('SELECT replaying FROM seen').pluck().all();
          } finally {
            db.close();
          }
        };
        // Three Opened events handled, nine events (both types) published.
        expect(seen()).toEqual([0, 0, 0]);
        expect((await target.messages()).length).toBe(9);
        expect(es(dir, ['project', 'rebuild', 'outbox', '--republish']).code).toBe(0);
        expect(seen()).toEqual([1, 1, 1]);
      } finally {
        await target.drop();
      }
    });

    it('kill -9 at random instants while publishing 20,000 events: each event arrives, each stream in version order', async () => {
      const target = await rig();
      try {
        const dir = tempDir('es-pub-kill-');
        projectionFile(dir, 'outbox', target.publish());
        importEvents(dir, 20_000, 97);
        let kills = 0;
        const { kills: random } = streams(seedFrom('ES_PUBLISH_KILL_SEED', `publish kill -9 (${broker})`), ['kills']);
        // The checkpoint's position as stored: a kill is aimed at a run that is publishing.
        const checkpointAt = (): number => {
          const db = new Database(join(dir, '.es/events.db'), { readonly: true });
          try {
            const row = db.prepare("SELECT data FROM events WHERE stream_id = '$checkpoint-outbox' ORDER BY version DESC LIMIT 1").get() as
              { data: string } | undefined;
            return row ? (JSON.parse(row.data) as { position: number }).position : 0;
          } finally {
            db.close();
          }
        };
        // Up to 10 runs killed, then one to the end. Each is killed at a random instant after it has
        // committed one to three batches more: on a fast machine a kill at a random time alone came
        // after the whole log was published, so the test killed too few runs.
        for (let round = 0; ; round++) {
          const from = checkpointAt();
          const run = esBackground(dir, ['project', 'run', '--batch-size', '700']);
          let done: { code: number | null; signal: NodeJS.Signals | null } | null = null;
          run.exited.then((exit) => (done = exit));
          if (round < 10) {
            const batches = 1 + Math.floor(random() * 3);
            while (done === null && checkpointAt() < from + batches * 700) await new Promise((r) => setTimeout(r, 10));
            await new Promise((r) => setTimeout(r, random() * 150));
          } else await run.exited;
          if (done) {
            expect(run.output().stderr).toBe('');
            expect(done).toMatchObject({ code: 0 });
            break;
          }
          run.child.kill('SIGKILL');
          await run.exited;
          kills++;
        }
        expect(kills).toBeGreaterThan(2);
        const stored = readAll(dir);
        expect(lastCheckpointPosition(dir, 'outbox')).toBe(stored[stored.length - 1]?.position);
        const got = await target.messages();
        const { firsts, problems } = checkStreamOrder(got);
        expect(problems).toEqual([]);
        expect(firsts.size).toBe(20_000);
        // Sorted arrays: toEqual on two sets of 20,000 compares them pairwise (minutes).
        expect([...firsts.keys()].sort()).toEqual(stored.map((e) => e.id).sort());
        // JetStream's duplicate window (2 minutes by default) drops every message id it already stored.
        if (broker === 'NATS JetStream') expect(got.length).toBe(20_000);
        else {
          expect(got.length).toBeGreaterThanOrEqual(20_000);
          // A consumer that records each message id in its own transaction applies each event once.
          const db = new Database(join(dir, 'consumer.db'));
          // One transaction per message, as a consumer commits; without an fsync each, for the test's time.
          db.pragma('journal_mode = WAL');
          db.pragma('synchronous = OFF');
          ensureHandledTable(db);
          db.exec('CREATE TABLE applied (event_id TEXT, stream TEXT, version INTEGER)');
          const insert = db.prepare('INSERT INTO applied VALUES (?, ?, ?)');
          const consume = db.transaction((m: Received) => {
            if (recordMessage(db, 'billing', m.body)) insert.run(m.id, m.body.streamId, m.body.version);
          });
          for (const m of got) consume(m);
          const rows = db.prepare('SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM applied').get() as { n: number; d: number };
          expect(rows).toEqual({ n: 20_000, d: 20_000 });
          console.log(`RabbitMQ: ${got.length - 20_000} redeliveries after ${kills} kills, each dropped by recordMessage`);
          db.close();
        }
      } finally {
        await target.drop();
      }
    }, 240_000);

    it('waits for a broker that is down, says so, shows the lag, then publishes everything', async () => {
      const target = await rig();
      const gate = await relay(url as string);
      try {
        const dir = tempDir('es-pub-down-');
        projectionFile(dir, 'outbox', target.publish(gate.port));
        importEvents(dir, 3000, 10);
        const run = esBackground(dir, ['project', 'run', '--batch-size', '500']);
        expect(await waitFor(() => /broker unreachable/.test(run.output().stderr), 10_000)).toBe(true);
        const status = es(dir, ['project', 'status', '--json']);
        expect(parseJson(status.stdout).projections[0]).toMatchObject({ lag: 3000 });
        await gate.open();
        // Once some went through, the broker goes away again mid-batch, then comes back.
        await waitFor(() => lastCheckpointPosition(dir, 'outbox') > 0, 20_000);
        gate.cut();
        const exit = await run.exited;
        expect(run.output().stderr).toMatch(/broker reachable again/);
        expect(exit).toMatchObject({ code: 0 });
        const stored = readAll(dir);
        const { firsts, problems } = checkStreamOrder(await target.messages());
        expect(problems).toEqual([]);
        expect(firsts.size).toBe(3000);
        expect(lastCheckpointPosition(dir, 'outbox')).toBe(stored[stored.length - 1]?.position);
      } finally {
        await gate.close();
        await target.drop();
      }
    }, 60_000);

    it('SIGTERM while the broker is down stops promptly with exit 143', async () => {
      const target = await rig();
      const gate = await relay(url as string);
      try {
        const dir = tempDir('es-pub-term-');
        projectionFile(dir, 'outbox', target.publish(gate.port));
        importEvents(dir, 10, 2);
        const run = esBackground(dir, ['project', 'run']);
        expect(await waitFor(() => /broker unreachable/.test(run.output().stderr), 10_000)).toBe(true);
        const sent = Date.now();
        run.child.kill('SIGTERM');
        expect(await run.exited).toMatchObject({ code: 143 });
        expect(Date.now() - sent).toBeLessThan(3000);
        expect(lastCheckpointPosition(dir, 'outbox')).toBe(0);
      } finally {
        await gate.close();
        await target.drop();
      }
    });

    it('an idle follower appends no checkpoint events and uses little CPU', async () => {
      const target = await rig();
      try {
        const dir = tempDir('es-pub-idle-');
        projectionFile(dir, 'outbox', target.publish());
        importEvents(dir, 5, 2);
        const run = esBackground(dir, ['project', 'run', '--follow']);
        expect(await waitFor(() => checkpointEvents(dir, 'outbox').length > 0, 10_000)).toBe(true);
        const pid = run.child.pid as number;
        // An idle follower polls the store and answers the broker's pings, no more: about 3% of a CPU
        // measured, on a quiet machine and with 4 busy loops on 2 cores alike (load slows a process, it
        // does not make it use more CPU). A spinning one takes a whole CPU when it can get one. The
        // bound is its CPU time over the window actually measured (a late timer lengthens it), with
        // room for a slow machine: a fifth of a CPU.
        const share = (from: Usage, to: Usage) => (to.cpuMs - from.cpuMs) / (to.at - from.at);
        // Its start-up work (compiling, collecting) done: a quiet second first, which a spinner never has.
        let last = usageOf(pid);
        const quiet = await waitFor(
          () => {
            const now = usageOf(pid);
            if (now.at - last.at < 1000) return false;
            const quietSecond = share(last, now) < 0.2;
            last = now;
            return quietSecond;
          },
          15_000,
          100,
        );
        expect(quiet, `${broker}: the idle follower never had a second below a fifth of a CPU in 15 s`).toBe(true);
        const before = { version: checkpointEvents(dir, 'outbox').length, usage: usageOf(pid) };
        // The window over which idleness is measured (not a wait for something to happen).
        await new Promise((r) => setTimeout(r, 4000));
        const after = usageOf(pid);
        expect(checkpointEvents(dir, 'outbox').length).toBe(before.version);
        const report = `${broker}: idle follower used ${after.cpuMs - before.usage.cpuMs} ms of CPU in ${Math.round(after.at - before.usage.at)} ms`;
        expect(share(before.usage, after), report).toBeLessThan(0.2);
        run.child.kill('SIGINT');
        expect(await run.exited).toMatchObject({ code: 0 });
        console.log(report);
      } finally {
        await target.drop();
      }
    });
  });
}

describe.skipIf(!NATS_URL)('a message JetStream refuses', () => {
  it('no stream for the subject: a fault naming the subject, or a dead letter with --on-error skip', async () => {
    const dir = tempDir('es-pub-nostream-');
    const subject = `${uniqueName('nostream')}.{type}`;
    projectionFile(dir, 'outbox', { to: NATS_URL as string, subject });
    importEvents(dir, 3, 1);
    const run = es(dir, ['project', 'run']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/faulted at position 1 .*no JetStream stream captures the subject "nostream[^"]*\.Opened"/);
    expect(run.stderr).not.toMatch(/JetStreamNotEnabled|jetstream is not enabled/);
    const skip = es(dir, ['project', 'run', '--on-error', 'skip']);
    expect(skip.code).toBe(0);
    expect(skip.stdout).toContain('3 events dead-lettered to $deadletter-outbox');
  });

  it('message N fails while N+1 of another stream is in flight: the checkpoint never passes N', async () => {
    const target = await natsRig({ max_msg_size: 4096 });
    try {
      const dir = tempDir('es-pub-n1-');
      projectionFile(dir, 'outbox', target.publish());
      // Event 40 of 200 is too large for the stream; the events after it, of other streams, are in flight.
      importEvents(dir, 200, 50, { at: 39, bytes: 10_000 });
      const run = es(dir, ['project', 'run', '--json']);
      expect(run.code).toBe(1);
      const row = parseJson(run.stdout).projections[0];
      expect(row.error).toMatchObject({ position: 40 });
      expect(row.error.message).toMatch(/refused the message: message size exceeds maximum/);
      expect(lastCheckpointPosition(dir, 'outbox')).toBe(39);
      const got = await target.messages();
      const { problems } = checkStreamOrder(got);
      expect(problems).toEqual([]);
      // Some events after 40 went out (other streams), but none of 40's stream after it.
      expect(got.some((m) => m.body.position > 40)).toBe(true);
      expect(got.filter((m) => m.body.streamId === 'acct-39' && m.body.position > 40)).toEqual([]);
      expect(checkpointEvents(dir, 'outbox').at(-1)?.type).toBe('Faulted');
    } finally {
      await target.drop();
    }
  });
});

describe.skipIf(!AMQP_URL)('a message RabbitMQ refuses', () => {
  it('an unroutable message (returned, yet confirmed) is a fault of its event', async () => {
    const rabbit = await rabbitFor(AMQP_URL as string, 'acct-0.*');
    try {
      const dir = tempDir('es-pub-noroute-');
      const url = new URL(AMQP_URL as string);
      projectionFile(dir, 'outbox', { to: url.href, exchange: rabbit.exchange, routingKey: '{streamId}.{type}' });
      importEvents(dir, 6, 2);
      const run = es(dir, ['project', 'run']);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/faulted at position 2 .*unroutable \(312 NO_ROUTE\).*routing key "acct-1\.Moved"/);
      expect(run.stderr).not.toContain(`:${url.password}@`);
      expect(lastCheckpointPosition(dir, 'outbox')).toBe(1);
      const skip = es(dir, ['project', 'run', '--on-error', 'skip']);
      expect(skip.code).toBe(0);
      // The first run may have sent acct-0's next events before the return came: they come again.
      const got = await rabbit.drain();
      expect(new Set(got.map((m) => m.id)).size).toBe(3);
      expect(new Set(got.map((m) => m.body.streamId))).toEqual(new Set(['acct-0']));
      expect(readAll(dir, ['--stream', '$deadletter-outbox']).length).toBe(3);
    } finally {
      await rabbit.drop();
    }
  });

  it('a missing exchange is a fault of the first event sent to it', async () => {
    const dir = tempDir('es-pub-noexchange-');
    projectionFile(dir, 'outbox', { to: AMQP_URL as string, exchange: uniqueName('missing-'), routingKey: '{type}' });
    importEvents(dir, 50, 5);
    const run = es(dir, ['project', 'run']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/faulted at position 1 .*NOT_FOUND - no exchange/);
  });
});

describe('a publish block that is wrong', () => {
  it.each([
    [{ to: 'kafka://x:1', subject: 'a' }, /publish\.to "kafka:\/\/x:1" is not a broker URL/],
    [{ to: 'nats://127.0.0.1:4222' }, /publish\.subject must be a non-empty string/],
    [{ to: 'nats://127.0.0.1:4222', subject: 'e.{kind}' }, /unknown placeholder \{kind\}/],
    [{ to: 'amqp://u:sekrit@h', exchange: 'x', routingKey: 'k', subject: 's' }, /publish has "subject", which an amqp:\/\/ broker does not take/],
    [{ to: 'amqp://u:sekrit@h', routingKey: 'k' }, /publish\.exchange must be a string/],
  ])('%j is refused with exit 3, naming the file', (publish, message) => {
    const dir = tempDir('es-pub-bad-');
    projectionFile(dir, 'outbox', publish as Record<string, string>);
    const r = es(dir, ['project', 'list']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/outbox\.mjs: invalid projection: /);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toContain('sekrit');
    // It is a publishing projection gone wrong, not a helper module: no hint about helper files.
    expect(r.stderr).not.toMatch(/helper/);
  });
});

/** Stream ids a broker cannot take whole, or would read as structure, one event each, in this order. */
const AWKWARD = ['acct-0', 's'.repeat(300), 'sm.4.>', 'h'.repeat(10_000), 'z'.repeat(70_000), 'a.b c*%'];

function importAwkward(dir: string): void {
  const lines = AWKWARD.map((streamId) => JSON.stringify({ streamId, type: 'Opened', data: {} }));
  const r = es(dir, ['import', '-', '--format', 'ndjson'], { input: `${lines.join('\n')}\n` });
  if (r.code !== 0) throw new Error(`import failed: ${r.stderr}`);
}

const deadLetters = (dir: string, name: string): number[] =>
  readAll(dir, ['--stream', `$deadletter-${name}`]).map((e) => (e.data as { event: { position: number } }).event.position);

describe.skipIf(!NATS_URL)('stream ids in NATS subjects', () => {
  it('a subject too long is a fault of its event (skip dead-letters it); . * > and space are escaped, one token each', async () => {
    const prefix = uniqueName('estest');
    const stream = await jetStreamFor(NATS_URL as string, [`${prefix}.>`]);
    try {
      const dir = tempDir('es-pub-subject-');
      projectionFile(dir, 'outbox', { to: NATS_URL as string, subject: `${prefix}.{streamId}.{type}` });
      importAwkward(dir);
      // Bounded: without the check the server closes the connection and the run retries for ever.
      const run = es(dir, ['project', 'run'], { timeoutMs: 20_000 });
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(
        /faulted at position 4 \(Opened, id [^)]+\): the subject "estest[^"]*\(10028 characters\)" is 10028 bytes, more than the 3840/,
      );
      expect(lastCheckpointPosition(dir, 'outbox')).toBe(3);
      const skip = es(dir, ['project', 'run', '--on-error', 'skip'], { timeoutMs: 20_000 });
      expect(skip.code).toBe(0);
      expect(deadLetters(dir, 'outbox')).toEqual([4, 5]);
      const got = await stream.messages();
      expect(got.map((m) => m.subject)).toEqual(['acct-0', 's'.repeat(300), 'sm%2E4%2E%3E', 'a%2Eb%20c%2A%25'].map((token) => `${prefix}.${token}.Opened`));
      // Each stream id is one token, and URL-decoding it gives the id back.
      expect(got.map((m) => decodeURIComponent(m.subject.split('.')[1] as string))).toEqual(got.map((m) => m.body.streamId));
    } finally {
      await stream.drop();
    }
  });
});

describe.skipIf(!AMQP_URL)('stream ids in RabbitMQ routing keys', () => {
  it('a key over 255 bytes, or headers larger than a frame, is a fault of its event; . * are escaped, one word each', async () => {
    // Bound to one word, then the type: a stream id matches only if it stays one word.
    const keyed = await rabbitFor(AMQP_URL as string, '*.Opened');
    const framed = await rabbitFor(AMQP_URL as string);
    try {
      const dir = tempDir('es-pub-key-');
      const url = new URL(AMQP_URL as string);
      projectionFile(dir, 'keyed', { to: url.href, exchange: keyed.exchange, routingKey: '{streamId}.{type}' });
      // A frame_max of 8 KiB: the 10,000-byte Es-Stream header does not fit, and the server closes the connection.
      projectionFile(dir, 'framed', { to: `${url.href}?frameMax=8192`, exchange: framed.exchange, routingKey: '{type}' });
      importAwkward(dir);
      const run = es(dir, ['project', 'run'], { timeoutMs: 20_000 });
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(
        /keyed .*faulted at position 2 \(Opened, id [^)]+\): the routing key "s+… \(307 characters\)" is 307 bytes, more than the 255 AMQP allows/,
      );
      expect(run.stderr).toMatch(/framed .*faulted at position 4 \(Opened, id [^)]+\): RabbitMQ refused the message: .*frame_too_large/);
      const skip = es(dir, ['project', 'run', '--on-error', 'skip'], { timeoutMs: 20_000 });
      expect(skip.code).toBe(0);
      expect(deadLetters(dir, 'keyed')).toEqual([2, 4, 5]);
      // The 70,000-byte header is more than amqplib encodes (64 KiB): refused before it is sent.
      expect(deadLetters(dir, 'framed')).toEqual([4, 5]);
      // Events the first run sent past the fault (other streams) come again after it: one of each kept.
      const firsts = (got: Received[]) => [...new Map(got.map((m) => [m.id, m])).values()];
      const byKey = firsts(await keyed.drain());
      expect(byKey.map((m) => m.subject).sort()).toEqual(['a%2Eb%20c%2A%25.Opened', 'acct-0.Opened', 'sm%2E4%2E%3E.Opened']);
      for (const m of byKey) expect(decodeURIComponent(m.subject.split('.')[0] as string)).toBe(m.body.streamId);
      const byType = firsts(await framed.drain());
      expect(byType.map((m) => m.body.streamId).sort()).toEqual(['a.b c*%', 'acct-0', 's'.repeat(300), 'sm.4.>'].sort());
    } finally {
      await keyed.drop();
      await framed.drop();
    }
  });
});

const hasNatsServer = spawnSync('nats-server', ['--version']).status === 0;

describe.skipIf(!hasNatsServer)('a subject the NATS server does not allow', () => {
  it('is a fault of its event, not a broker that is down', async () => {
    const dir = tempDir('es-pub-perm-');
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    writeFile(
      dir,
      'nats.conf',
      `port: ${port}\nauthorization { users = [ { user: u, password: p, permissions: { publish: { allow: ["ok.>", "_INBOX.>"] } } } ] }\n`,
    );
    const server = spawn('nats-server', ['-c', join(dir, 'nats.conf')], { stdio: 'ignore' });
    try {
      const accepts = () =>
        new Promise<boolean>((resolve) => {
          const socket = connect(port, '127.0.0.1', () => {
            socket.destroy();
            resolve(true);
          });
          socket.on('error', () => resolve(false));
        });
      const deadline = Date.now() + 10_000;
      while (!(await accepts())) {
        expect(Date.now()).toBeLessThan(deadline);
        await new Promise((r) => setTimeout(r, 50));
      }
      projectionFile(dir, 'outbox', { to: `nats://u:p@127.0.0.1:${port}`, subject: 'nope.{type}' });
      importEvents(dir, 2, 1);
      // Bounded: without the fault the run retries for ever.
      const run = es(dir, ['project', 'run'], { timeoutMs: 20_000 });
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/faulted at position 1 .*does not allow publishing to subject "nope\.Opened": Permissions Violation/);
    } finally {
      server.kill();
    }
  });
});
