/**
 * Tools for the broker tests. The brokers themselves (their URLs, a stream or queue of one's own,
 * what arrived there) live in the registry of backends (backends.ts), re-exported here.
 */
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import type { Received } from './backends.js';

export { AMQP_URL, NATS_URL, jetStreamFor, rabbitFor, sayNotRun, uniqueName, type Received } from './backends.js';

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
