/**
 * Child process: the raw limit. Signs (signWss) and POSTs event bodies with undici straight to the receiver at a
 * fixed concurrency, no Redis and no Temporal; prints one JSON line `{ ok, failed, elapsedMs }` at the end.
 *
 * Env: BENCH_RAW_URL, BENCH_RAW_CONCURRENCY, BENCH_RAW_DURATION_MS, BENCH_RAW_SECRET.
 */
import { Agent, request } from 'undici';
import { signWss } from '../src/security/signature';

const MAX_REQUESTS = 2_000_000;

async function main(): Promise<void> {
  const url = process.env.BENCH_RAW_URL ?? '';
  const concurrency = Number(process.env.BENCH_RAW_CONCURRENCY ?? 32);
  const durationMs = Number(process.env.BENCH_RAW_DURATION_MS ?? 5000);
  const secret = process.env.BENCH_RAW_SECRET ?? 'wss_bench';
  if (!url.startsWith('http://127.0.0.1:')) throw new Error('the raw client only talks to 127.0.0.1');
  const dispatcher = new Agent({ connections: concurrency, keepAliveTimeout: 60_000 });
  let ok = 0;
  let failed = 0;
  let issued = 0;
  const started = Date.now();
  const deadline = started + durationMs;
  const loop = async (): Promise<void> => {
    while (Date.now() < deadline && issued < MAX_REQUESTS) {
      const seq = issued++;
      const eventId = `evt_raw_${seq}`;
      const sentAt = Date.now();
      // The same envelope shape the delivery activity sends.
      const body = JSON.stringify({
        id: eventId,
        type: 'bench.raw',
        occurredAt: new Date(sentAt).toISOString(),
        data: { sentAt },
      });
      const timestamp = Math.floor(sentAt / 1000);
      const res = await request(url, {
        method: 'POST',
        dispatcher,
        headers: {
          'content-type': 'application/json',
          'x-wss-event-id': eventId,
          'x-wss-timestamp': String(timestamp),
          'x-wss-signature': signWss(secret, timestamp, body),
        },
        body,
      });
      await res.body.dump();
      if (res.statusCode >= 200 && res.statusCode < 300) ok++;
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const elapsedMs = Date.now() - started;
  await dispatcher.close();
  process.stdout.write(`${JSON.stringify({ ok, failed, elapsedMs })}\n`);
}

main().catch((err: unknown) => {
  console.error('raw client failed:', err);
  process.exit(1);
});
