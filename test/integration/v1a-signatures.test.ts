import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createPrivateKey, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { JwksCache, verifyV1aSignature } from '../../receivers/typescript/verify';
import { DRY_RUN_V1A_SIGNATURE } from '../../src/api/dry-run';
import type { Jwks } from '../../receivers/typescript/verify';
import { receiverPool } from '../support/receiver';
import type { ReceivedRequest } from '../support/receiver';
import { historyText, uniqueName, waitFor, workflowIdOf } from '../support/services';
import { startStack } from '../support/stack';
import type { TestStack } from '../support/stack';

/**
 * The Standard Webhooks `v1a` scheme end to end: an endpoint signed with its tenant's ed25519 key, the public JWKS
 * served without auth, every signature checked by Node's own ed25519 verifier (no code of ours) and by the three
 * receiver kits, key rotation with overlap, and private keys kept out of every read, log and history.
 */

const ROOT = join(__dirname, '..', '..');
/** Short, so the test can see the rotated-out key stop signing; long enough for a delivery inside it. */
const GRACE_MS = 8_000;

interface JwkOut extends JsonWebKey {
  kid: string;
}

function header(req: ReceivedRequest, name: string): string {
  const value = req.headers[name];
  assert.equal(typeof value, 'string', `header ${name} missing`);
  return value as string;
}

/** The `v1a` entries of `webhook-signature`, in order, as raw signature bytes. */
function v1aSignatures(req: ReceivedRequest): Buffer[] {
  return header(req, 'webhook-signature')
    .split(' ')
    .filter((e) => e.startsWith('v1a,'))
    .map((e) => Buffer.from(e.slice(4), 'base64'));
}

/** Node's ed25519 verifier over the Standard Webhooks content `{id}.{timestamp}.{body}`. */
function nodeVerifies(req: ReceivedRequest, jwk: JwkOut, signature: Buffer): boolean {
  const content = Buffer.concat([
    Buffer.from(`${header(req, 'webhook-id')}.${header(req, 'webhook-timestamp')}.`, 'utf8'),
    req.body,
  ]);
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  return cryptoVerify(null, content, key, signature);
}

interface KitVerdict {
  valid: boolean;
  reason: string;
}

function kitInput(req: ReceivedRequest, jwksUrl: string) {
  return {
    jwksUrl,
    id: header(req, 'webhook-id'),
    timestamp: header(req, 'webhook-timestamp'),
    signature: header(req, 'webhook-signature'),
    kid: typeof req.headers['webhook-signature-kid'] === 'string' ? req.headers['webhook-signature-kid'] : null,
    bodyBase64: req.body.toString('base64'),
  };
}

/**
 * Runs a kit's process with `input` on stdin. Asynchronous on purpose: the API that serves the JWKS runs in this
 * process, so a synchronous spawn would block the very server the kit fetches from.
 */
function runKit(
  command: string,
  args: string[],
  input: string,
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

/** The Python kit, fetching the JWKS itself (urllib) and verifying with it. */
async function pythonVerdict(req: ReceivedRequest, jwksUrl: string): Promise<KitVerdict> {
  const script = [
    'import base64, json, sys',
    `sys.path.insert(0, ${JSON.stringify(join(ROOT, 'receivers', 'python'))})`,
    'from wss_verify import JwksCache',
    'i = json.load(sys.stdin)',
    'v = JwksCache(i["jwksUrl"]).verify(msg_id=i["id"], timestamp_header=i["timestamp"], signature_header=i["signature"], kid_header=i["kid"], body=base64.b64decode(i["bodyBase64"]))',
    'print(json.dumps({"valid": v.valid, "reason": v.reason}))',
  ].join('\n');
  const run = await runKit('python3', ['-c', script], JSON.stringify(kitInput(req, jwksUrl)));
  assert.equal(run.status, 0, `python kit failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as KitVerdict;
}

/** The Go kit's command (receivers/go/cmd/verify-v1a), fetching the JWKS with net/http. */
async function goVerdict(req: ReceivedRequest, jwksUrl: string): Promise<KitVerdict> {
  const run = await runKit('go', ['run', './cmd/verify-v1a'], JSON.stringify(kitInput(req, jwksUrl)), {
    cwd: join(ROOT, 'receivers', 'go'),
    env: { ...process.env, GOPROXY: 'off', GOTOOLCHAIN: 'local' },
  });
  assert.equal(run.status, 0, `go kit failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as KitVerdict;
}

/** The TypeScript kit, fetching the JWKS with fetch(). */
async function typescriptVerdict(req: ReceivedRequest, jwksUrl: string): Promise<KitVerdict> {
  const i = kitInput(req, jwksUrl);
  return new JwksCache(jwksUrl).verify({
    id: i.id,
    timestamp: i.timestamp,
    signature: i.signature,
    kid: i.kid ?? undefined,
    body: req.body,
  });
}

describe('v1a (ed25519) signatures with a per-tenant JWKS', () => {
  let stack: TestStack;
  const receivers = receiverPool();

  before(async () => {
    stack = await startStack({ env: { WSS_SECRET_GRACE_MS: String(GRACE_MS) } });
  });
  after(async () => {
    await receivers.closeAll();
    await stack.stop();
  });

  const jwksUrl = (tenant: string) => `${stack.apiUrl}/v1/tenants/${tenant}/jwks.json`;

  /** The JWKS as anyone on the network sees it: no Authorization header. */
  async function fetchJwks(tenant: string): Promise<{ keys: JwkOut[] }> {
    const res = await fetch(jwksUrl(tenant));
    assert.equal(res.status, 200, await res.clone().text());
    assert.match(res.headers.get('content-type') ?? '', /^application\/(jwk-set\+)?json/);
    return (await res.json()) as { keys: JwkOut[] };
  }

  async function endpointFor(tenant: string, fields: Record<string, unknown>) {
    const hook = await receivers.start();
    const created = await stack.api('POST', `/v1/tenants/${tenant}/endpoints`, {
      url: hook.url,
      eventTypes: ['*'],
      ...fields,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return { hook, endpoint: created.body as { id: string; secret: string; signatureVersions: string[] } };
  }

  async function publish(tenant: string, hook: { requests: ReceivedRequest[] }, eventId: string) {
    const before = hook.requests.length;
    await stack.xadd('tenant', tenant, 'type', 'order.created', 'data', '{"amount":12.5}', 'id', eventId);
    await waitFor(`delivery of ${eventId}`, () => hook.requests.length === before + 1);
    return hook.requests[before]!;
  }

  it('a delivery verifies with the JWKS in Node crypto.verify and in the TypeScript, Python and Go kits', async () => {
    const tenant = uniqueName('v1a');
    const { hook, endpoint } = await endpointFor(tenant, {
      signatureScheme: 'standard-webhooks',
      signatureVersions: ['v1', 'v1a'],
    });
    assert.deepEqual(endpoint.signatureVersions, ['v1', 'v1a']);
    const req = await publish(tenant, hook, 'evt-v1a-1');

    const jwks = await fetchJwks(tenant);
    assert.equal(jwks.keys.length, 1);
    const [jwk] = jwks.keys;
    assert.equal(jwk!.kty, 'OKP');
    assert.equal(jwk!.crv, 'Ed25519');
    assert.equal(jwk!.d, undefined, 'a JWKS never carries the private part');
    assert.match(jwk!.kid, /^[A-Za-z0-9_-]{43}$/);

    const entries = header(req, 'webhook-signature').split(' ');
    assert.equal(entries.length, 2, 'one v1 (HMAC) and one v1a (ed25519) entry');
    assert.match(entries[0]!, /^v1,[A-Za-z0-9+/]+=*$/);
    assert.match(entries[1]!, /^v1a,[A-Za-z0-9+/]{86}==$/);
    assert.equal(header(req, 'webhook-signature-kid'), jwk!.kid);
    const [sig] = v1aSignatures(req);
    assert.equal(nodeVerifies(req, jwk!, sig!), true, 'Node crypto.verify accepts the v1a signature');
    const tampered = { ...req, body: Buffer.from(req.body.toString('utf8').replace('12.5', '13.5')) };
    assert.equal(nodeVerifies(tampered, jwk!, sig!), false, 'and refuses a changed body');

    assert.deepEqual(await typescriptVerdict(req, jwksUrl(tenant)), { valid: true, reason: 'ok' });
    assert.deepEqual(await pythonVerdict(req, jwksUrl(tenant)), { valid: true, reason: 'ok' });
    assert.deepEqual(await goVerdict(req, jwksUrl(tenant)), { valid: true, reason: 'ok' });
    for (const verdict of [
      await typescriptVerdict(tampered, jwksUrl(tenant)),
      await pythonVerdict(tampered, jwksUrl(tenant)),
      await goVerdict(tampered, jwksUrl(tenant)),
    ]) {
      assert.deepEqual(verdict, { valid: false, reason: 'bad_signature' });
    }
    // Another tenant's JWKS does not verify this tenant's deliveries.
    const other = uniqueName('v1a-other');
    await endpointFor(other, { signatureVersions: ['v1a'] });
    assert.equal((await typescriptVerdict(req, jwksUrl(other))).valid, false);
  });

  it('v1a alone sends no HMAC signature, and the public JWKS of a tenant without keys is empty', async () => {
    const tenant = uniqueName('v1a-only');
    const { hook } = await endpointFor(tenant, { signatureVersions: ['v1a'] });
    const req = await publish(tenant, hook, 'evt-v1a-only');
    assert.equal(req.headers['x-wss-signature'], undefined);
    assert.equal(req.headers['x-wss-timestamp'], undefined);
    assert.match(header(req, 'webhook-signature'), /^v1a,[A-Za-z0-9+/]{86}==$/);
    const { keys } = await fetchJwks(tenant);
    assert.equal(nodeVerifies(req, keys[0]!, v1aSignatures(req)[0]!), true);
    assert.deepEqual(await fetchJwks(uniqueName('nobody')), { keys: [] });
  });

  it('after a rotation both keys sign and verify during the grace period, then only the new one', async () => {
    const tenant = uniqueName('v1a-rot');
    const { hook } = await endpointFor(tenant, { signatureVersions: ['v1a'] });
    const [oldJwk] = (await fetchJwks(tenant)).keys;
    // A receiver that cached the JWKS before the rotation.
    const staleCache = new JwksCache(jwksUrl(tenant));
    await staleCache.keys();

    const rotated = await stack.api('POST', `/v1/tenants/${tenant}/signing-keys/rotate`, {});
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    const newKid = rotated.body.kid as string;
    assert.notEqual(newKid, oldJwk!.kid);
    assert.match(rotated.body.publicKey as string, /^whpk_[A-Za-z0-9+/]{43}=$/);
    assert.ok(Date.parse(rotated.body.previousKeyValidUntil as string) > Date.now());

    const jwks = await fetchJwks(tenant);
    assert.deepEqual(
      jwks.keys.map((k) => k.kid),
      [newKid, oldJwk!.kid],
      'the JWKS lists the new key first and keeps the old one during the grace period',
    );
    const req = await publish(tenant, hook, 'evt-v1a-rot-1');
    const sigs = v1aSignatures(req);
    assert.equal(sigs.length, 2);
    assert.equal(header(req, 'webhook-signature-kid'), `${newKid} ${oldJwk!.kid}`);
    assert.equal(nodeVerifies(req, jwks.keys[0]!, sigs[0]!), true, 'the new key verifies');
    assert.equal(nodeVerifies(req, jwks.keys[1]!, sigs[1]!), true, 'the old key verifies');
    // Each key alone is enough: a receiver holding only the old key, and one holding only the new.
    for (const only of jwks.keys) {
      const single: Jwks = { keys: [only] };
      const verdict = verifyV1aSignature({
        jwks: single,
        id: header(req, 'webhook-id'),
        timestamp: header(req, 'webhook-timestamp'),
        signature: header(req, 'webhook-signature'),
        kid: header(req, 'webhook-signature-kid'),
        body: req.body,
      });
      assert.deepEqual(verdict, { valid: true, reason: 'ok' }, `verifies with ${only.kid} alone`);
    }
    assert.deepEqual(
      await staleCache.verify({
        id: header(req, 'webhook-id'),
        timestamp: header(req, 'webhook-timestamp'),
        signature: header(req, 'webhook-signature'),
        kid: header(req, 'webhook-signature-kid'),
        body: req.body,
      }),
      { valid: true, reason: 'ok' },
    );
    assert.deepEqual(await pythonVerdict(req, jwksUrl(tenant)), { valid: true, reason: 'ok' });
    assert.deepEqual(await goVerdict(req, jwksUrl(tenant)), { valid: true, reason: 'ok' });

    await waitFor('the grace period to end', async () => (await fetchJwks(tenant)).keys.length === 1, GRACE_MS * 4);
    const later = await publish(tenant, hook, 'evt-v1a-rot-2');
    assert.equal(v1aSignatures(later).length, 1, 'only the new key signs after the grace period');
    assert.equal(header(later, 'webhook-signature-kid'), newKid);
  });

  it('a PATCH switches an HMAC endpoint to v1a besides v1, creating the tenant key on the way', async () => {
    const tenant = uniqueName('v1a-patch');
    const { hook, endpoint } = await endpointFor(tenant, {});
    assert.deepEqual(endpoint.signatureVersions, ['v1'], 'HMAC only by default');
    assert.deepEqual(await fetchJwks(tenant), { keys: [] });
    const patched = await stack.api('PATCH', `/v1/tenants/${tenant}/endpoints/${endpoint.id}`, {
      signatureVersions: ['v1', 'v1a'],
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.deepEqual(patched.body.signatureVersions, ['v1', 'v1a']);
    const req = await publish(tenant, hook, 'evt-v1a-patch');
    assert.match(header(req, 'x-wss-signature'), /^[0-9a-f]{64}$/);
    const { keys } = await fetchJwks(tenant);
    assert.equal(keys.length, 1);
    assert.equal(nodeVerifies(req, keys[0]!, v1aSignatures(req)[0]!), true);
  });

  it('the dry run shows where each v1a signature goes and its kid, but no signature a receiver would accept', async () => {
    // A real signature over a body the caller chose would let anyone with API access forge deliveries.
    const tenant = uniqueName('v1a-dry');
    const { endpoint } = await endpointFor(tenant, { signatureVersions: ['v1', 'v1a'] });
    const res = await stack.api('POST', `/v1/tenants/${tenant}/endpoints/${endpoint.id}/test`, {
      type: 'order.created',
      id: 'evt-looks-real',
      data: { refund: 1_000_000 },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const headers = res.body.headers as Record<string, string>;
    assert.match(headers['x-wss-signature']!, /^[0-9a-f]{64}$/);
    assert.equal(headers['webhook-signature'], DRY_RUN_V1A_SIGNATURE);
    const { keys } = await fetchJwks(tenant);
    assert.equal(headers['webhook-signature-kid'], keys[0]!.kid);
    const verdict = verifyV1aSignature({
      jwks: { keys },
      id: headers['webhook-id']!,
      timestamp: headers['webhook-timestamp']!,
      signature: headers['webhook-signature']!,
      kid: headers['webhook-signature-kid']!,
      body: Buffer.from(res.body.body as string, 'utf8'),
    });
    assert.equal(verdict.valid, false, 'the dry run signed a body of the caller');
  });

  it('keeps at most two keys signing: a second rotation within the grace ends the oldest key', async () => {
    const tenant = uniqueName('v1a-rot-many');
    await endpointFor(tenant, { signatureVersions: ['v1a'] });
    const kids: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      const rotated = await stack.api('POST', `/v1/tenants/${tenant}/signing-keys/rotate`, {});
      assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
      kids.push(rotated.body.kid as string);
    }
    assert.deepEqual(
      (await fetchJwks(tenant)).keys.map((k) => k.kid),
      [kids[4], kids[3]],
      'the newest key and the one it replaced, nothing older',
    );
  });

  it('refuses unknown signature versions and an empty list with a 400 naming the field', async () => {
    for (const versions of [[], ['v2'], ['v1a', 'v1a']]) {
      const res = await stack.api('POST', `/v1/tenants/${uniqueName('v1a-bad')}/endpoints`, {
        url: 'http://127.0.0.1:9/hook',
        eventTypes: ['*'],
        signatureVersions: versions,
      });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.match(res.body.error.field as string, /^signatureVersions(\.\d+)?$/);
    }
  });

  it('binds each sealed private key to its tenant, and deleting the tenant removes its keys', async () => {
    const owner = uniqueName('v1a-owner');
    const thief = uniqueName('v1a-thief');
    await endpointFor(owner, { signatureVersions: ['v1a'] });
    const keys = stack.stores.keys;
    const record = await stack.redis.get(keys.tenantSigningKeys(owner as never));
    assert.ok(record);
    // A record copied onto another tenant does not decrypt there (the AAD names tenant and kid).
    await stack.redis.set(keys.tenantSigningKeys(thief as never), record);
    await assert.rejects(stack.stores.signingKeys.activeSigningKeys(thief as never), { code: 'secret_unavailable' });
    await stack.redis.del(keys.tenantSigningKeys(thief as never));

    const deleted = await stack.api('DELETE', `/v1/tenants/${owner}`);
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    assert.deepEqual(await fetchJwks(owner), { keys: [] });
    assert.equal(await stack.redis.exists(keys.tenantSigningKeys(owner as never)), 0);
  });

  it('never shows, logs or records a private key, before or after rotation', async () => {
    const tenant = uniqueName('v1a-secret');
    const { hook, endpoint } = await endpointFor(tenant, { signatureVersions: ['v1', 'v1a'] });
    const responses: unknown[] = [];
    const collect = async (method: string, path: string, body?: unknown) => {
      const res = await stack.api(method, path, body);
      assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
      responses.push(res.body);
    };
    const readEverything = async () => {
      await collect('GET', `/v1/tenants/${tenant}/signing-keys`);
      await collect('GET', `/v1/tenants/${tenant}/endpoints/${endpoint.id}`);
      await collect('POST', `/v1/tenants/${tenant}/endpoints/${endpoint.id}/test`, { type: 'a.b', data: {} });
      responses.push(await fetchJwks(tenant));
    };
    await readEverything();
    await collect('POST', `/v1/tenants/${tenant}/signing-keys/rotate`, {});
    await readEverything();
    const published = await stack.api('POST', `/v1/tenants/${tenant}/events`, { type: 'order.paid', data: {} });
    assert.equal(published.status, 202);
    await waitFor('delivery', () => hook.requests.length === 1);
    const workflowId = workflowIdOf(tenant, published.body.id as string);
    await stack.temporal.workflow.getHandle(workflowId).result();
    const history = historyText(await stack.temporal.workflow.getHandle(workflowId).fetchHistory());

    const privateKeys = await stack.stores.signingKeys.activeSigningKeys(tenant as never);
    assert.equal(privateKeys.length, 2);
    // Every string value under the stack's prefix (endpoint records, signing keys, payloads): plaintext nowhere.
    const keys = await stack.redis.keys(`*${stack.config.WSS_KEY_PREFIX}*`);
    assert.ok(
      keys.some((k) => k.endsWith(':signing-keys')),
      'the signing keys are stored',
    );
    const values: string[] = [];
    for (const key of keys) {
      if ((await stack.redis.type(key)) === 'string') values.push(`${key} ${(await stack.redis.get(key)) ?? ''}`);
    }
    for (const { kid, privateKey } of privateKeys) {
      const jwk = createPrivateKey({ key: Buffer.from(privateKey, 'base64'), format: 'der', type: 'pkcs8' }).export({
        format: 'jwk',
      });
      const seed = Buffer.from(jwk.d!, 'base64url');
      const forms = [jwk.d!, seed.toString('base64'), seed.toString('hex'), privateKey];
      for (const [where, text] of [
        ['API responses', JSON.stringify(responses)],
        ['Redis', values.join('\n')],
        ['Temporal history', history],
        ['logs', stack.logs.join('\n')],
      ] as const) {
        for (const form of forms) assert.equal(text.includes(form), false, `private key ${kid} found in ${where}`);
      }
    }
  });
});
