// `npm run bench` suite "publish": events per second published with acknowledgements, es (`project
// rebuild --republish` of a publishing projection) against the hand-written loop of
// bench/publish-floor.mjs with the same client library, side by side in one run, for each broker.
// A broker that does not answer is reported as not measured. Flags: --events <n> (default 20000),
// --runs <n> (default 3, median taken), --quick (5000 events, 1 run), --out <file>.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './lib/stats.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ES = join(ROOT, 'bin/es.js');
const FLOOR = join(ROOT, 'bench/publish-floor.mjs');
const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : fallback;
};
const quick = args.includes('--quick');
const EVENTS = Number(flag('--events', quick ? 5000 : 20_000));
const RUNS = Number(flag('--runs', quick ? 1 : 3));
const OUT = flag('--out', quick ? join(ROOT, 'bench/.data/publish.quick.md') : join(ROOT, 'bench/reports/publish.md'));
/** Streams the events are spread over: many (the usual case) and few (where one in flight per stream costs most). */
const SHAPES = [1000, 10];
const NATS = process.env.ES_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const AMQP = process.env.ES_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

function answers(url) {
  const { hostname, port } = new URL(url);
  return new Promise((done) => {
    const socket = createConnection(Number(port), hostname);
    socket.setTimeout(1000);
    socket.on('connect', () => (socket.destroy(), done(true)));
    socket.on('error', () => done(false));
    socket.on('timeout', () => (socket.destroy(), done(false)));
  });
}

/** A fresh JetStream stream or RabbitMQ exchange + queue for each measured run, so neither side meets the other's messages. */
async function brokerTarget(kind) {
  const name = `esbench${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  if (kind === 'nats') {
    const { connect } = await import('@nats-io/transport-node');
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const nc = await connect({ servers: new URL(NATS).host });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: name.toUpperCase(), subjects: [`${name}.>`] });
    return {
      publish: { to: NATS, subject: `${name}.{type}` },
      floorTarget: name,
      count: async () => (await jsm.streams.info(name.toUpperCase())).state.messages,
      drop: async () => (await jsm.streams.delete(name.toUpperCase()), await nc.close()),
    };
  }
  const amqp = (await import('amqplib')).default;
  const conn = await amqp.connect(AMQP);
  const ch = await conn.createChannel();
  await ch.assertExchange(name, 'topic', { durable: false });
  await ch.assertQueue(name, { durable: false });
  await ch.bindQueue(name, name, '#');
  return {
    publish: { to: AMQP, exchange: name, routingKey: '{streamId}.{type}' },
    floorTarget: name,
    count: async () => (await ch.checkQueue(name)).messageCount,
    drop: async () => (await ch.deleteQueue(name), await ch.deleteExchange(name), await conn.close()),
  };
}

function es(dir, argv) {
  return execFileSync(process.execPath, [ES, ...argv], { cwd: dir, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

async function measure(kind, streams) {
  const dir = mkdtempSync(join(tmpdir(), 'es-bench-publish-'));
  try {
    const lines = Array.from({ length: EVENTS }, (_, i) =>
      JSON.stringify({ streamId: `acct-${i % streams}`, type: i % 4 === 0 ? 'Opened' : 'Moved', data: { i, note: 'x'.repeat(100) } }),
    );
    writeFileSync(join(dir, 'events.ndjson'), `${lines.join('\n')}\n`);
    es(dir, ['import', 'events.ndjson']);
    mkdirSync(join(dir, 'projections'));
    const esRates = [];
    const floorRates = [];
    for (let run = 0; run < RUNS; run++) {
      // es and the floor alternate, each against a fresh stream or queue.
      const a = await brokerTarget(kind);
      writeFileSync(join(dir, 'projections/outbox.mjs'), `export default { publish: ${JSON.stringify(a.publish)} };\n`);
      const out = JSON.parse(es(dir, ['project', 'rebuild', 'outbox', '--republish', '--json']));
      const row = out.projections[0];
      if (row.processed !== EVENTS || (await a.count()) !== EVENTS) throw new Error(`es published ${row.processed}, the broker holds ${await a.count()}`);
      esRates.push(EVENTS / (row.durationMs / 1000));
      await a.drop();
      const b = await brokerTarget(kind);
      const floor = JSON.parse(
        execFileSync(process.execPath, [FLOOR, join(dir, '.es/events.db'), kind === 'nats' ? NATS : AMQP, b.floorTarget], { cwd: ROOT, encoding: 'utf8' }),
      );
      if (floor.events !== EVENTS || (await b.count()) !== EVENTS) throw new Error(`the floor published ${floor.events}, the broker holds ${await b.count()}`);
      floorRates.push(EVENTS / (floor.ms / 1000));
      await b.drop();
    }
    const esRate = median(esRates);
    const floorRate = median(floorRates);
    return { kind, streams, esRate, floorRate, ratio: esRate / floorRate };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const results = [];
const skipped = [];
for (const [kind, url, label] of [
  ['nats', NATS, 'NATS JetStream'],
  ['amqp', AMQP, 'RabbitMQ'],
]) {
  if (!(await answers(url))) {
    skipped.push(`${label}: no server at ${new URL(url).host}, not measured`);
    process.stderr.write(`publish bench: ${label} does not answer at ${new URL(url).host}; not measured\n`);
    continue;
  }
  for (const streams of SHAPES) {
    const r = await measure(kind, streams);
    process.stderr.write(
      `${label}, ${streams} streams: es ${Math.round(r.esRate)}/s, hand-written loop ${Math.round(r.floorRate)}/s, es/loop ${r.ratio.toFixed(2)}\n`,
    );
    results.push({ ...r, label });
  }
}

const lines = [
  '# Publishing benchmark',
  '',
  `\`node bench/publish.js${args.length ? ` ${args.join(' ')}` : ''}\` (part of \`npm run bench\`), ${new Date().toISOString()}; ${EVENTS.toLocaleString('en-US')} events of ~200 bytes, median of ${RUNS} run(s); es and the loop alternate, each into a fresh JetStream stream or RabbitMQ queue, on the machine's brokers over loopback.`,
  '',
  'es: `es project rebuild outbox --republish --json`, its `durationMs` (reset, broker connection, reads, publishing with acks, checkpoints). Loop: bench/publish-floor.mjs, the same client library and messages, each batch of 1,000 published at once with no limit per stream, every ack awaited, a checkpoint row written; timed from its connection to its last checkpoint.',
  '',
  '| broker | streams | es events/s | hand-written loop events/s | es / loop |',
  '| --- | ---: | ---: | ---: | ---: |',
  ...results.map(
    (r) =>
      `| ${r.label} | ${r.streams.toLocaleString('en-US')} | ${Math.round(r.esRate).toLocaleString('en-US')} | ${Math.round(r.floorRate).toLocaleString('en-US')} | ${r.ratio.toFixed(2)} |`,
  ),
  ...(skipped.length ? ['', ...skipped.map((s) => `- ${s}`)] : []),
  '',
];
mkdirSync(dirname(OUT), { recursive: true });
writeFileSync(OUT, lines.join('\n'));
process.stderr.write(`publish bench: report written to ${OUT}\n`);
