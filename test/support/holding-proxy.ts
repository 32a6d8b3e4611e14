import { once } from 'node:events';
import net from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 in front of `upstream` that can hold back the upstream's answers: requests still go
 * through, replies wait until {@link HoldingProxy.release}. Put between a consumer and Temporal, it leaves the
 * consumer exactly where a crash between "the workflow started" and "the entry was acked" would: the start is done
 * on the server, the consumer does not know it yet, and its entries stay pending.
 */
export interface HoldingProxy {
  /** host:port to connect to instead of the upstream. */
  readonly address: string;
  /** Stops passing the upstream's bytes on (they wait in the socket buffers, nothing is dropped). */
  hold(): void;
  /** Passes them on again, held bytes first. */
  release(): void;
  close(): Promise<void>;
}

export async function startHoldingProxy(upstream: string): Promise<HoldingProxy> {
  const [host = '127.0.0.1', portText = ''] = upstream.split(/:(?=\d+$)/);
  const upstreamPort = Number(portText);
  let held = false;
  const pairs = new Set<{ client: net.Socket; server: net.Socket }>();
  const proxy = net.createServer((client) => {
    const server = net.connect({ host, port: upstreamPort });
    const pair = { client, server };
    pairs.add(pair);
    client.pipe(server);
    // Not pipe(): pipe() would resume the upstream on drain even while the replies are held.
    server.on('data', (chunk: Buffer) => {
      if (!client.write(chunk)) server.pause();
    });
    client.on('drain', () => {
      if (!held) server.resume();
    });
    server.on('end', () => client.end());
    if (held) server.pause();
    const close = () => {
      pairs.delete(pair);
      client.destroy();
      server.destroy();
    };
    client.on('error', close);
    server.on('error', close);
    client.on('close', close);
    server.on('close', close);
  });
  proxy.listen(0, '127.0.0.1');
  await once(proxy, 'listening');
  const address = proxy.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${address.port}`,
    hold() {
      held = true;
      for (const { server } of pairs) server.pause();
    },
    release() {
      held = false;
      for (const { server } of pairs) server.resume();
    },
    async close() {
      for (const { client, server } of pairs) {
        client.destroy();
        server.destroy();
      }
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}
