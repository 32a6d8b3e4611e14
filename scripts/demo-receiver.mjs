#!/usr/bin/env node
// A tiny webhook receiver for trying the service locally: prints each request and checks its signature.
//   WSS_DEMO_SECRET=<endpoint secret> node scripts/demo-receiver.mjs [port]
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? 9000);
const secret = process.env.WSS_DEMO_SECRET;

function verify(timestamp, signatures, body) {
  if (!secret) return 'not checked (set WSS_DEMO_SECRET)';
  if (!/^[0-9]+$/.test(timestamp ?? '')) return 'INVALID: bad timestamp';
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return 'INVALID: timestamp outside 5 minutes';
  const expected = createHmac('sha256', secret).update(timestamp).update(body).digest();
  const ok = (signatures ?? '').split(',').some((s) => {
    const got = Buffer.from(s.trim(), 'hex');
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
  return ok ? 'valid' : 'INVALID: signature mismatch';
}

createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    console.log(
      `\n${req.method} ${req.url}  event=${req.headers['x-wss-event-id']} type=${req.headers['x-wss-event-type']}`,
    );
    console.log(`signature: ${verify(req.headers['x-wss-timestamp'], req.headers['x-wss-signature'], body)}`);
    console.log(body.toString('utf8'));
    res.writeHead(204).end();
  });
}).listen(port, '127.0.0.1', () => console.log(`demo receiver on http://127.0.0.1:${port}/`));
