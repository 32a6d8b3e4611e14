import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { verifyWssRequest } from '../support/independent-verifier';
import { receiverPool } from '../support/receiver';
import type { Receiver } from '../support/receiver';
import { uniqueName, waitFor, workflowIdOf } from '../support/services';
import { startStack } from '../support/stack';
import type { TestStack } from '../support/stack';

describe('per-endpoint filters and transforms', () => {
  let stack: TestStack;
  const receivers = receiverPool();

  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await receivers.closeAll();
    await stack.stop();
  });

  const receiver = () => receivers.start();

  async function endpoint(tenant: string, body: Record<string, unknown>) {
    const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, body);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body as { id: string; secret: string };
  }

  it('routes a mixed stream to exactly the matching endpoints, with transformed and signed bodies', async () => {
    const tenant = uniqueName('shop');
    const [big, eu, slim] = [await receiver(), await receiver(), await receiver()];
    const bigEp = await endpoint(tenant, {
      url: big.url,
      eventTypes: ['order.*'],
      filter: { 'data.total': { $gte: 100 } },
    });
    const euEp = await endpoint(tenant, {
      url: eu.url,
      eventTypes: ['order.created', 'invoice.*'],
      filter: { $or: [{ 'data.country': { $in: ['DE', 'FR'] } }, { 'data.tags': 'eu' }] },
    });
    const slimEp = await endpoint(tenant, {
      url: slim.url,
      eventTypes: ['*'],
      filter: { 'data.customer.email': { $regex: '@example\\.com$', $options: 'i' } },
      transform:
        '{"body": {"order": data.id, "amount": data.total, "kind": type}, "headers": {"X-Shop": tenant}, "eventType": "shop." & type}',
    });

    const events = [
      {
        id: 'e1',
        type: 'order.created',
        data: { id: 'o1', total: 150, country: 'US', customer: { email: 'a@example.com' } },
      },
      {
        id: 'e2',
        type: 'order.created',
        data: { id: 'o2', total: 20, country: 'DE', customer: { email: 'b@other.org' } },
      },
      {
        id: 'e3',
        type: 'invoice.paid',
        data: { id: 'o3', total: 500, tags: ['eu'], customer: { email: 'C@EXAMPLE.COM' } },
      },
      { id: 'e4', type: 'user.signup', data: { id: 'u4', customer: { email: 'd@other.org' } } },
      { id: 'e5', type: 'order.updated', data: { id: 'o5', total: '999', country: 'FR' } },
    ];
    for (const e of events)
      await stack.xadd('tenant', tenant, 'type', e.type, 'data', JSON.stringify(e.data), 'id', e.id);
    for (const e of events)
      await waitFor(`workflow ${e.id}`, () => stack.temporal.workflow.getHandle(workflowIdOf(tenant, e.id)).result());

    const ids = (r: Receiver) => r.requests.map((q) => q.headers['x-wss-event-id']).sort();
    assert.deepEqual(ids(big), ['e1']); // e5's total is a string: no coercion, no match
    assert.deepEqual(ids(eu), ['e2', 'e3']);
    assert.deepEqual(ids(slim), ['e1', 'e3']);

    for (const [r, ep] of [
      [big, bigEp],
      [eu, euEp],
      [slim, slimEp],
    ] as const) {
      for (const q of r.requests)
        assert.equal(verifyWssRequest(ep.secret, q.headers, q.body).ok, true, 'signature over the bytes sent');
    }
    const e1 = slim.requests.find((q) => q.headers['x-wss-event-id'] === 'e1')!;
    assert.equal(e1.body.toString(), JSON.stringify({ order: 'o1', amount: 150, kind: 'order.created' }));
    assert.equal(e1.headers['x-shop'], tenant);
    assert.equal(e1.headers['x-wss-event-type'], 'shop.order.created');
    const untouched = JSON.parse(big.requests[0]!.body.toString());
    assert.deepEqual(untouched.data, events[0]!.data);

    const noSubscribers = await stack.temporal.workflow.getHandle(workflowIdOf(tenant, 'e4')).result();
    assert.equal(noSubscribers.status, 'no_subscribers');
  });

  it('fails only the endpoint whose transform throws or runs past its limit; the others deliver', async () => {
    const tenant = uniqueName('shop');
    const [good, throws, loops] = [await receiver(), await receiver(), await receiver()];
    await endpoint(tenant, { url: good.url, eventTypes: ['*'] });
    const throwsEp = await endpoint(tenant, {
      url: throws.url,
      eventTypes: ['*'],
      transform: '$error("no shipping address")',
    });
    const loopsEp = await endpoint(tenant, {
      url: loops.url,
      eventTypes: ['*'],
      transform: '($f := function($x){ $f($x + 1) }; $f(0))',
    });
    await stack.xadd('tenant', tenant, 'type', 'order.created', 'data', '{"id":1}', 'id', 'e-tf');
    const result = await waitFor('result', () =>
      stack.temporal.workflow.getHandle(workflowIdOf(tenant, 'e-tf')).result(),
    );

    assert.equal(good.requests.length, 1);
    assert.equal(throws.requests.length, 0);
    assert.equal(loops.requests.length, 0);
    const byEndpoint: Record<string, { status: string; lastError?: string; attempts: number }> = Object.fromEntries(
      result.deliveries.map((d: { endpointId: string }) => [d.endpointId, d]),
    );
    assert.equal(byEndpoint[throwsEp.id]?.status, 'failed');
    assert.match(byEndpoint[throwsEp.id]?.lastError ?? '', /transform_failed.*no shipping address/);
    assert.equal(byEndpoint[throwsEp.id]?.attempts, 1, 'a failing transform is not retried');
    assert.equal(byEndpoint[loopsEp.id]?.status, 'failed');
    assert.match(byEndpoint[loopsEp.id]?.lastError ?? '', /transform_failed/);
    assert.ok(
      stack.logs.some((l) => l.includes('transform_failed') && l.includes(throwsEp.id)),
      'logged with the expression error',
    );
  });

  // Issue 11, item 11: a transform's headers follow the static-header rule. These used to be delivered (the
  // reserved ones), silently replaced (Content-Type, User-Agent), or sent until the receiver answered 431 forever.
  // A reserved header is named in the service's spelling; any other by position (its name may come from the event).
  const refusedTransformHeaders: [description: string, headers: string, named: RegExp][] = [
    [
      'the reserved headers of the issue',
      '{"Content-Encoding": "gzip", "Proxy-Authorization": "Basic dXNlcjpwYXNz", "HTTP2-Settings": "AAMAAABkAAQAoAAAAAIAAAAA", "Proxy-Connection": "close", "Content-Range": "bytes 0-5/10"}',
      /header "content-encoding" is reserved/,
    ],
    ['Proxy-Authorization', '{"Proxy-Authorization": "Basic dXNlcjpwYXNz"}', /"proxy-authorization" is reserved/],
    ['Content-Type', '{"Content-Type": "text/plain"}', /"content-type" is reserved/],
    ['User-Agent', '{"User-Agent": "mine/1.0"}', /"user-agent" is reserved/],
    ['Expect', '{"Expect": "100-continue"}', /"expect" is reserved/],
    ['a C1 control', '{"X-A": "a\\u0085b"}', /header #1 has an invalid value/],
    ['a trailing space', '{"X-A": "token "}', /header #1 has an invalid value/],
    ['20 values of 2000 characters', '$merge([1..20].{"X-B" & $: $pad("", 2000, "v")})', /more than 8192 bytes/],
  ];
  for (const [description, headers, named] of refusedTransformHeaders) {
    it(`fails a delivery and the dry run whose transform sets ${description}, sending nothing`, async () => {
      const tenant = uniqueName('hdr');
      const hook = await receiver();
      const ep = await endpoint(tenant, {
        url: hook.url,
        eventTypes: ['*'],
        transform: `{"body": {"id": data.id}, "headers": ${headers}}`,
      });
      await stack.xadd('tenant', tenant, 'type', 'order.created', 'data', '{"id":7}', 'id', 'e-th');
      const result = await waitFor('result', () =>
        stack.temporal.workflow.getHandle(workflowIdOf(tenant, 'e-th')).result(),
      );
      const delivery = result.deliveries[0];
      assert.equal(delivery?.status, 'failed', JSON.stringify(result));
      assert.equal(delivery?.attempts, 1, 'not retried');
      assert.match(delivery?.lastError ?? '', /transform_failed/);
      assert.match(delivery?.lastError ?? '', named);
      assert.ok(!(delivery?.lastError ?? '').includes('dXNlcjpwYXNz'), 'a header value is never quoted');
      assert.equal(hook.requests.length, 0, 'nothing is sent');

      const dry = await stack.api('POST', `/v1/tenants/${tenant}/endpoints/${ep.id}/test`, {
        type: 'order.created',
        data: { id: 7 },
      });
      assert.equal(dry.status, 422, JSON.stringify(dry.body));
      assert.equal(dry.body.error.code, 'transform_failed');
      assert.match(dry.body.error.message, named);
    });
  }

  it('delivers the published data text byte for byte, and keeps big integers a transform selects', async () => {
    const tenant = uniqueName('bytes');
    const [plain, shaped] = [await receiver(), await receiver()];
    await endpoint(tenant, { url: plain.url, eventTypes: ['num.*'] });
    await endpoint(tenant, { url: shaped.url, eventTypes: ['num.*'], transform: '{"id": data.orderId, "all": data}' });
    const spellings = [
      '{"orderId":12345678901234567890}',
      '{"orderId":-98765432109876543210,"z":-0,"f":1.0,"e":1E5,"g":0.1e-2,"h":1e400}',
      ' {"orderId" : 9007199254740993,\n "name":"caf\\u00e9","lone":"\\ud800","a":1,"a":2} ',
    ];
    for (const [i, data] of spellings.entries())
      await stack.xadd('tenant', tenant, 'type', 'num.big', 'data', data, 'id', `n${i}`);
    for (const i of spellings.keys())
      await waitFor(`workflow n${i}`, () => stack.temporal.workflow.getHandle(workflowIdOf(tenant, `n${i}`)).result());
    const body = (r: Receiver, id: string) =>
      r.requests.find((q) => q.headers['x-wss-event-id'] === id)?.body.toString() ?? '';
    for (const [i, data] of spellings.entries()) {
      const sent = body(plain, `n${i}`);
      assert.ok(sent.startsWith(`{"id":"n${i}","type":"num.big","occurredAt":"`), sent);
      assert.ok(sent.endsWith(`,"data":${data}}`), `data rewritten: ${sent}`);
    }
    assert.equal(
      body(shaped, 'n0'),
      '{"id":12345678901234567890,"all":{"orderId":12345678901234567890}}',
      'a selected big integer keeps its digits',
    );
    assert.ok(body(shaped, 'n1').includes('"h":1e400'), body(shaped, 'n1'));
  });

  it('rejects a filter or transform that does not compile, with the parser message and position', async () => {
    const tenant = uniqueName('shop');
    const hook = await receiver();
    const badTransform = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, {
      url: hook.url,
      eventTypes: ['*'],
      transform: '{"a": data.x',
    });
    assert.equal(badTransform.status, 400);
    assert.equal(badTransform.body.error.code, 'validation_failed');
    assert.match(badTransform.body.error.message, /^transform: .*position \d+/);

    const badFilter = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, {
      url: hook.url,
      eventTypes: ['*'],
      filter: { 'data.total': { $gt: { nested: 1 } } },
    });
    assert.equal(badFilter.status, 400);
    assert.match(badFilter.body.error.message, /filter\.data\.total\.\$gt/);

    const unsafeRegex = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, {
      url: hook.url,
      eventTypes: ['*'],
      filter: { type: { $regex: '(a)\\1' } },
    });
    assert.equal(unsafeRegex.status, 400);

    const ep = await endpoint(tenant, { url: hook.url, eventTypes: ['*'] });
    const badPatch = await stack.api('PATCH', `/v1/tenants/${tenant}/endpoints/${ep.id}`, { filter: { $where: 'x' } });
    assert.equal(badPatch.status, 400);
    assert.match(badPatch.body.error.message, /\$where/);
  });

  it('dry-runs an endpoint: match decision, transformed body and signed headers, without sending', async () => {
    const tenant = uniqueName('shop');
    const hook = await receiver();
    const ep = await endpoint(tenant, {
      url: hook.url,
      eventTypes: ['order.*'],
      filter: { 'data.total': { $gt: 10 } },
      transform: '{"amount": data.total}',
      headers: { 'X-Team': 'payments' },
    });
    const match = await stack.api('POST', `/v1/tenants/${tenant}/endpoints/${ep.id}/test`, {
      type: 'order.created',
      data: { total: 42 },
      id: 'sample-1',
    });
    assert.equal(match.status, 200, JSON.stringify(match.body));
    assert.equal(match.body.matches, true);
    assert.equal(match.body.body, '{"amount":42}');
    assert.equal(match.body.headers['x-team'], 'payments');
    const verdict = verifyWssRequest(ep.secret, match.body.headers, Buffer.from(match.body.body));
    assert.equal(verdict.ok, true);

    const filtered = await stack.api('POST', `/v1/tenants/${tenant}/endpoints/${ep.id}/test`, {
      type: 'order.created',
      data: { total: 1 },
    });
    assert.deepEqual(filtered.body, { matches: false, reason: 'filter' });
    const wrongType = await stack.api('POST', `/v1/tenants/${tenant}/endpoints/${ep.id}/test`, {
      type: 'user.created',
      data: {},
    });
    assert.deepEqual(wrongType.body, { matches: false, reason: 'event_type' });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(hook.requests.length, 0, 'a dry run sends nothing');
  });
});
