import { randomBytes } from 'node:crypto';
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, jetstream, type JsMsg } from '@nats-io/jetstream';
import amqp, { type ChannelModel } from 'amqplib';

/** Set by .ci/run when the machine's brokers answer; without them the broker tests say they did not run. */
export const NATS_URL = process.env.ES_TEST_NATS_URL;
export const AMQP_URL = process.env.ES_TEST_AMQP_URL;

export function sayNotRun(broker: string, variable: string): void {
  console.log(`${broker} tests did NOT run: ${variable} is not set (.ci/run sets it when the broker answers)`);
}

export const uniqueName = (prefix: string): string => `${prefix}${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;

export interface Received {
  /** The message id (Nats-Msg-Id / AMQP messageId). */
  id: string;
  headers: Record<string, string>;
  body: { id: string; position: number; streamId: string; version: number; type: string; data: unknown };
  subject: string;
}

/** A JetStream stream of its own for one test, deleted by `drop`. */
export async function jetStreamFor(url: string, subjects: string[], extra: { max_msg_size?: number } = {}) {
  const name = uniqueName('ESTEST');
  const nc: NatsConnection = await connect({ servers: new URL(url).host });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name, subjects, ...extra });
  return {
    name,
    async count(): Promise<number> {
      return (await jsm.streams.info(name)).state.messages;
    },
    /** Every message in the stream, in stream order. */
    async messages(): Promise<Received[]> {
      const total = (await jsm.streams.info(name)).state.messages;
      const out: Received[] = [];
      if (total === 0) return out;
      const consumer = await jetstream(nc).consumers.get(name);
      const messages = await consumer.fetch({ max_messages: total, expires: 10_000 });
      for await (const m of messages as AsyncIterable<JsMsg>) {
        const headers: Record<string, string> = {};
        for (const key of m.headers?.keys() ?? []) headers[key] = m.headers?.get(key) ?? '';
        out.push({ id: headers['Nats-Msg-Id'] ?? '', headers, body: m.json(), subject: m.subject });
        if (out.length >= total) break;
      }
      return out;
    },
    async drop(): Promise<void> {
      await jsm.streams.delete(name).catch(() => {});
      await nc.close();
    },
  };
}

/** A topic exchange and a queue bound to it (`#`) for one test, deleted by `drop`. */
export async function rabbitFor(url: string, binding = '#') {
  const exchange = uniqueName('es-test-x-');
  const queue = uniqueName('es-test-q-');
  const connection: ChannelModel = await amqp.connect(url);
  // Unheard, a connection error would be thrown at the test runner; the next call on it fails instead.
  connection.on('error', () => {});
  const channel = await connection.createChannel();
  await channel.assertExchange(exchange, 'topic', { durable: false });
  await channel.assertQueue(queue, { durable: false });
  await channel.bindQueue(queue, exchange, binding);
  return {
    exchange,
    queue,
    channel,
    async count(): Promise<number> {
      return (await channel.checkQueue(queue)).messageCount;
    },
    /** Takes every message waiting in the queue, as a consumer with automatic acknowledgement. */
    async drain(): Promise<Received[]> {
      const out: Received[] = [];
      const waiting = (await channel.checkQueue(queue)).messageCount;
      if (waiting === 0) return out;
      let tag = '';
      await new Promise<void>((resolve, reject) => {
        channel
          .consume(
            queue,
            (m) => {
              if (m === null) return;
              const headers = Object.fromEntries(Object.entries(m.properties.headers ?? {}).map(([k, v]) => [k, String(v)]));
              out.push({ id: String(m.properties.messageId), headers, body: JSON.parse(m.content.toString('utf8')), subject: m.fields.routingKey });
              if (out.length >= waiting) resolve();
            },
            { noAck: true },
          )
          .then((ok) => (tag = ok.consumerTag), reject);
      });
      await channel.cancel(tag);
      return out;
    },
    async drop(): Promise<void> {
      await channel.deleteQueue(queue).catch(() => {});
      await channel.deleteExchange(exchange).catch(() => {});
      await connection.close().catch(() => {});
    },
  };
}

/**
 * A TCP relay on a port of its own to a broker: closed until `open()`, and `cut()` drops every
 * connection through it, as a broker that goes away does.
 */
export async function relay(target: string) {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  // Take a free port, then let it go: the relay is "down" until opened on it.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const local = (probe.address() as { port: number }).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  let server: Server | null = null;
  return {
    port: local,
    async open(): Promise<void> {
      server = createServer((client) => {
        const upstream = tcpConnect(Number(port), hostname);
        sockets.add(client).add(upstream);
        const end = (): void => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', end).on('close', end);
        upstream.on('error', end).on('close', end);
        client.pipe(upstream).pipe(client);
      });
      await new Promise<void>((resolve) => server?.listen(local, '127.0.0.1', resolve));
    },
    cut(): void {
      for (const socket of sockets) socket.destroy();
    },
    async close(): Promise<void> {
      for (const socket of sockets) socket.destroy();
      const s = server;
      server = null;
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
}

/** Checks what a broker received: each stream in version order by first arrival; returns the ids seen. */
export function checkStreamOrder(messages: readonly Received[]): { firsts: Map<string, number>; problems: string[] } {
  const last = new Map<string, number>();
  const firsts = new Map<string, number>();
  const problems: string[] = [];
  for (const m of messages) {
    const { streamId, version } = m.body;
    if (firsts.has(m.id)) continue;
    firsts.set(m.id, version);
    const before = last.get(streamId) ?? 0;
    if (version !== before + 1) problems.push(`${streamId}: version ${version} arrived after ${before}`);
    last.set(streamId, version);
  }
  return { firsts, problems };
}
