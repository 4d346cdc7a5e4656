import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy to a database server that can be frozen: the sockets stay open (connects still
 * succeed) but nothing is forwarded any more, in either direction, as behind a hung proxy or a
 * paused VM. Nothing is ever refused or reset while frozen.
 */
export interface FreezableProxy {
  port: number;
  freeze(): void;
  thaw(): void;
  close(): Promise<void>;
}

export async function freezableProxy(host: string, port: number): Promise<FreezableProxy> {
  let frozen = false;
  const pairs = new Set<[Socket, Socket]>();
  const held = new Set<Socket>();
  const link = ([a, b]: [Socket, Socket]): void => {
    a.pipe(b);
    b.pipe(a);
  };
  const server: Server = createServer((client) => {
    client.on('error', () => {});
    if (frozen) {
      // Accepted by the kernel and kept open, never answered: a handshake waits for ever.
      held.add(client);
      return;
    }
    const upstream = createConnection({ host, port });
    upstream.on('error', () => {});
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const end = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    link(pair);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    freeze() {
      frozen = true;
      for (const [a, b] of pairs) {
        a.unpipe(b);
        b.unpipe(a);
        a.pause();
        b.pause();
      }
    },
    thaw() {
      frozen = false;
      for (const socket of held) socket.destroy();
      held.clear();
      for (const pair of pairs) link(pair);
    },
    async close() {
      for (const socket of held) socket.destroy();
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
