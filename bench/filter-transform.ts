import type { EventEnvelope } from '../src/domain/event';
import { compileFilter } from '../src/domain/filter';
import { compileTransform, runTransform } from '../src/transform/transform';

/** One measured operation. `ratioToBaseline` is its ops/s over `JSON.parse` of the same event text. */
export interface FilterTransformBenchRow {
  name: string;
  opsPerSec: number;
  ratioToBaseline: number;
}

/** A typical order event: about 2 KB of JSON. */
function orderEvent(): EventEnvelope {
  return {
    id: 'evt_01HZX3K9J6Q8W2V4T7N5M1P0RS',
    type: 'order.created',
    tenant: 'acme-eu',
    occurredAt: '2024-05-01T12:00:00.000Z',
    data: {
      order: {
        id: 'ord_7f3a9c2e',
        number: 'A-100482',
        status: 'paid',
        currency: 'EUR',
        subtotal: 249.7,
        shipping: 4.9,
        tax: 50.92,
        total: 305.52,
        createdAt: '2024-05-01T11:59:58.120Z',
        channel: 'web',
        tags: ['new-customer', 'promo-spring'],
      },
      customer: {
        id: 'cus_4821',
        email: 'ann.example@example.com',
        name: 'Ann Example',
        locale: 'fr-FR',
        marketingOptIn: true,
      },
      shippingAddress: {
        line1: '12 rue de la République',
        line2: 'Bâtiment B',
        city: 'Lyon',
        postalCode: '69002',
        country: 'FR',
      },
      items: Array.from({ length: 9 }, (_, i) => ({
        sku: `SKU-${1000 + i}`,
        name: `Product number ${i + 1} with a descriptive name`,
        qty: 1 + (i % 3),
        unitPrice: 19.9 + i * 5,
        discount: i === 2 ? 5 : 0,
        attributes: { color: ['red', 'blue', 'green'][i % 3], size: ['S', 'M', 'L'][i % 3] },
      })),
      payment: { method: 'card', brand: 'visa', last4: '4242', captured: true },
    },
  };
}

const FILTER = {
  type: { $in: ['order.created', 'order.updated'] },
  'data.order.total': { $gte: 100 },
  'data.shippingAddress.country': { $in: ['FR', 'BE', 'DE'] },
  'data.items.sku': { $regex: '^SKU-10[0-9]{2}$' },
};

const TRANSFORM = `{
  "body": {
    "orderId": data.order.id,
    "orderNumber": data.order.number,
    "amount": { "value": data.order.total, "currency": data.order.currency },
    "customer": { "email": data.customer.email, "name": data.customer.name },
    "lines": data.items.{ "sku": sku, "quantity": qty, "lineTotal": $round(qty * unitPrice - discount, 2) },
    "itemCount": $sum(data.items.qty),
    "shipTo": $join([data.shippingAddress.city, data.shippingAddress.country], ", ")
  },
  "headers": { "X-Shop-Order": data.order.number },
  "eventType": "shop." & $replace(type, ".", "_")
}`;

/** Runs `batch` (100 operations) until `durationMs` has passed, after a short warm-up; returns ops/s. */
async function measure(durationMs: number, batch: () => unknown): Promise<number> {
  const warmUntil = performance.now() + Math.min(200, durationMs / 4);
  while (performance.now() < warmUntil) await batch();
  let ops = 0;
  const started = performance.now();
  let elapsed = 0;
  while (elapsed < durationMs) {
    await batch();
    ops += BATCH;
    elapsed = performance.now() - started;
  }
  return (ops * 1000) / elapsed;
}

// Synchronous operations run in plain loops: an `await` per call would cost as much as the filter itself.
const BATCH = 100;

/**
 * Measures filter and transform evaluation on one ~2 KB order event, beside `JSON.parse` of its text as a
 * baseline. The filter and the transform are compiled once, as the consumer and the activity cache them.
 *
 * @param opts.durationMs measuring time per operation, after a short warm-up.
 */
export async function runFilterTransformBench(opts: { durationMs: number }): Promise<FilterTransformBenchRow[]> {
  const event = orderEvent();
  const text = JSON.stringify(event);
  const filter = compileFilter(FILTER);
  const transform = compileTransform(TRANSFORM);
  const limits = { timeoutMs: 1000, maxOutputBytes: 1024 * 1024 };
  if (!filter.matches(event)) throw new Error('bench filter should match the bench event');
  await runTransform(transform, event, limits);

  let sink = 0;
  const baseline = await measure(opts.durationMs, () => {
    for (let i = 0; i < BATCH; i++) sink += (JSON.parse(text) as { id: string }).id.length;
  });
  const filterOps = await measure(opts.durationMs, () => {
    for (let i = 0; i < BATCH; i++) sink += filter.matches(event) ? 1 : 0;
  });
  const transformOps = await measure(opts.durationMs, async () => {
    for (let i = 0; i < BATCH; i++) sink += (await runTransform(transform, event, limits)).body.length;
  });
  if (sink < 0) throw new Error('unreachable: keeps the measured work alive');

  const row = (name: string, opsPerSec: number): FilterTransformBenchRow => ({
    name,
    opsPerSec: Math.round(opsPerSec),
    ratioToBaseline: Number((opsPerSec / baseline).toFixed(3)),
  });
  return [
    row(`JSON.parse (${Buffer.byteLength(text)} B event)`, baseline),
    row('filter.matches (4 clauses)', filterOps),
    row('runTransform (JSONata mapping)', transformOps),
  ];
}

if (require.main === module) {
  const durationMs = Number(process.argv[2] ?? 2000);
  runFilterTransformBench({ durationMs })
    .then((rows) => {
      const width = Math.max(...rows.map((r) => r.name.length));
      console.log(`${'operation'.padEnd(width)}  ${'ops/s'.padStart(12)}  ${'× JSON.parse'.padStart(12)}`);
      for (const r of rows) {
        console.log(
          `${r.name.padEnd(width)}  ${r.opsPerSec.toLocaleString('en-US').padStart(12)}  ${r.ratioToBaseline.toFixed(3).padStart(12)}`,
        );
      }
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
