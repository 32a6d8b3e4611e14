import { once } from 'node:events';
import { createServer } from 'node:http';
import type { Server } from 'node:http';

/** What the receiver saw during one phase. */
export class PhaseTally {
  /** Requests answered with 2xx. */
  ok = 0;
  /** Requests answered with 503 on purpose. */
  rejected = 0;
  /** 2xx answers for an (event id, path) pair that had already been answered 2xx. */
  duplicates = 0;
  /** XADD (or start) time carried in the body, and now − that time, per 2xx answer that carried one. */
  readonly sentAt: number[] = [];
  readonly latencyMs: number[] = [];
  readonly delivered = new Set<string>();
  readonly eventIds = new Set<string>();
  firstOkAt: number | undefined;
  lastOkAt: number | undefined;
}

export interface BenchReceiver {
  readonly baseUrl: string;
  /** The tally requests are counted into; `startPhase` swaps in a fresh one and returns it. */
  readonly tally: PhaseTally;
  startPhase(): PhaseTally;
  close(): Promise<void>;
}

/**
 * A minimal receiver on 127.0.0.1: answers 200 at once, except under `/flaky` where every `failEvery`-th request
 * (counted per receiver) gets 503, so exactly 1 in `failEvery` answers fails whatever the retry pattern.
 * Counts deliveries by the `x-wss-event-id` header and the request path, and reads `data.sentAt` from the body
 * to compute the delivery latency.
 */
export async function startBenchReceiver(options: { failEvery: number }): Promise<BenchReceiver> {
  let tally = new PhaseTally();
  let flakyCount = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const now = Date.now();
      const path = req.url ?? '';
      if (path.startsWith('/flaky') && flakyCount++ % options.failEvery === 0) {
        tally.rejected++;
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end('bench: injected failure');
        return;
      }
      const eventId = String(req.headers['x-wss-event-id'] ?? '');
      const key = `${eventId}|${path}`;
      if (tally.delivered.has(key)) tally.duplicates++;
      else tally.delivered.add(key);
      tally.eventIds.add(eventId);
      tally.ok++;
      tally.firstOkAt ??= now;
      tally.lastOkAt = now;
      try {
        const sentAt = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data?: { sentAt?: unknown } }).data
          ?.sentAt;
        if (typeof sentAt === 'number') {
          tally.sentAt.push(sentAt);
          tally.latencyMs.push(now - sentAt);
        }
      } catch {
        // A body that is not ours still counts as a delivery; it just has no latency.
      }
      res.writeHead(200);
      res.end();
    });
  });
  server.keepAliveTimeout = 65_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    get tally() {
      return tally;
    },
    startPhase() {
      tally = new PhaseTally();
      return tally;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
