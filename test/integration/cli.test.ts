import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { verifyWssRequest } from '../support/independent-verifier';
import { startReceiver } from '../support/receiver';
import type { Receiver } from '../support/receiver';
import { uniqueName, waitFor } from '../support/services';
import { startStack } from '../support/stack';
import type { TestStack } from '../support/stack';

const ROOT = path.resolve(__dirname, '..', '..');

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('wss CLI as a real process against the API', () => {
  let stack: TestStack;
  const receivers: Receiver[] = [];
  let scratch: string;

  before(async () => {
    stack = await startStack();
    scratch = mkdtempSync(path.join(tmpdir(), 'wss-cli-'));
  });
  after(async () => {
    await Promise.all(receivers.map((r) => r.close()));
    await stack.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  function wss(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['bin/wss.js', ...args], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', WSS_API_URL: stack.apiUrl, WSS_TOKEN: stack.adminToken, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  async function ok(args: string[], env?: Record<string, string>): Promise<string> {
    const res = await wss(args, env);
    assert.equal(res.code, 0, `wss ${args.join(' ')} exited ${res.code}\nstdout: ${res.stdout}\nstderr: ${res.stderr}`);
    return res.stdout;
  }

  const newTenant = () => uniqueName('cli').replace(/[^A-Za-z0-9_-]/g, '_');

  async function addEndpoint(
    tenant: string,
    url: string,
    events = 'order.*',
  ): Promise<{ id: string; secret: string; stdout: string }> {
    const stdout = await ok(['endpoints', 'add', tenant, '--url', url, '--events', events]);
    const id = /created endpoint (ep_[0-9a-z]+) → /.exec(stdout)?.[1];
    const secret = /^secret: (\S+)$/m.exec(stdout)?.[1];
    assert.ok(id && secret, stdout);
    return { id, secret, stdout };
  }

  it('creates a tenant and lists it in a table and as JSON', async () => {
    const tenant = newTenant();
    assert.equal((await ok(['tenants', 'create', tenant, '--name', 'Acme Ltd'])).trim(), `created tenant ${tenant}`);
    const table = (await ok(['tenants', 'list'])).split('\n');
    assert.match(table[0] ?? '', /^ID\s+NAME\s+CREATEDAT$/);
    const row = table.find((line) => line.startsWith(`${tenant} `));
    assert.ok(row, table.join('\n'));
    assert.match(row, /Acme Ltd\s+\d{4}-\d\d-\d\dT/);
    const json = JSON.parse(await ok(['tenants', 'list', '--json']));
    assert.equal(json.items.find((t: any) => t.id === tenant)?.name, 'Acme Ltd');
  });

  it('adds an endpoint, printing its secret once, and lists endpoints as a table and as JSON', async () => {
    const tenant = newTenant();
    const hook = await startReceiver();
    receivers.push(hook);
    const added = await addEndpoint(tenant, hook.url, 'order.*, invoice.paid');
    assert.match(added.stdout, /shown once/);
    const stored = await stack.api('GET', `/v1/tenants/${tenant}/endpoints/${added.id}`);
    assert.deepEqual(stored.body.eventTypes, ['order.*', 'invoice.paid']);
    assert.equal(stored.body.url, hook.url);

    const lines = (await ok(['endpoints', 'list', tenant])).trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^ID\s+URL\s+EVENTTYPES\s+ENABLED$/);
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.deepEqual(lines[1]?.split(/\s+/), [added.id, hook.url, 'order.*,invoice.paid', 'true']);

    const listed = await ok(['endpoints', 'list', tenant, '--json']);
    const json = JSON.parse(listed);
    assert.deepEqual(
      json.items.map((e: any) => e.id),
      [added.id],
    );
    assert.equal(listed.includes(added.secret), false);
  });

  it('pages endpoints with --limit and the printed --cursor', async () => {
    const tenant = newTenant();
    const first = await addEndpoint(tenant, 'http://127.0.0.1:9/a');
    const second = await addEndpoint(tenant, 'http://127.0.0.1:9/b');
    const page1 = await ok(['endpoints', 'list', tenant, '--limit', '1']);
    const cursor = /^more: --cursor (\S+)$/m.exec(page1)?.[1];
    assert.ok(cursor, page1);
    const page2 = await ok(['endpoints', 'list', tenant, '--limit', '1', '--cursor', cursor]);
    const ids = [page1, page2].map((p) => /^(ep_[0-9a-z]+)\s/m.exec(p)?.[1]);
    assert.deepEqual([...ids].sort(), [first.id, second.id].sort());
    assert.doesNotMatch(page2, /more:/);
  });

  it('rotates a secret, printing the new one, which then signs deliveries', async () => {
    const tenant = newTenant();
    const hook = await startReceiver();
    receivers.push(hook);
    const added = await addEndpoint(tenant, hook.url);
    const rotated = await ok(['endpoints', 'rotate', tenant, added.id]);
    const secret = /^new secret: (\S+)$/m.exec(rotated)?.[1];
    assert.ok(secret, rotated);
    assert.notEqual(secret, added.secret);
    assert.match(rotated, /previous secret valid until \d{4}-/);
    assert.equal(rotated.includes(added.secret), false);

    await ok(['events', 'publish', tenant, '--type', 'order.created', '--data', '{"n":1}']);
    await waitFor('delivery', () => hook.requests.length === 1);
    const req = hook.requests[0]!;
    const [first] = String(req.headers['x-wss-signature']).split(',');
    assert.equal(verifyWssRequest(secret, { ...req.headers, 'x-wss-signature': first }, req.body).ok, true);
  });

  it('disables and enables an endpoint', async () => {
    const tenant = newTenant();
    const added = await addEndpoint(tenant, 'http://127.0.0.1:9/x');
    assert.equal((await ok(['endpoints', 'disable', tenant, added.id])).trim(), `${added.id} disabled`);
    assert.equal((await stack.api('GET', `/v1/tenants/${tenant}/endpoints/${added.id}`)).body.enabled, false);
    assert.equal((await ok(['endpoints', 'enable', tenant, added.id])).trim(), `${added.id} enabled`);
    assert.equal((await stack.api('GET', `/v1/tenants/${tenant}/endpoints/${added.id}`)).body.enabled, true);
  });

  it('publishes an event that the receiver gets, with data inline or from a file', async () => {
    const tenant = newTenant();
    const hook = await startReceiver();
    receivers.push(hook);
    const added = await addEndpoint(tenant, hook.url);
    const out = await ok([
      'events',
      'publish',
      tenant,
      '--type',
      'order.paid',
      '--data',
      '{"total":42,"note":"café"}',
      '--id',
      'evt-cli-1',
    ]);
    assert.match(out, /^published evt-cli-1 \(stream entry \d+-\d+\)$/m);
    const file = path.join(scratch, 'data.json');
    writeFileSync(file, JSON.stringify({ fromFile: true }));
    await ok(['events', 'publish', tenant, '--type', 'order.paid', '--data', `@${file}`, '--id', 'evt-cli-2']);

    await waitFor('two deliveries', () => hook.requests.length === 2);
    const bodies = hook.requests.map((r) => JSON.parse(r.body.toString('utf8')));
    const byId = new Map(bodies.map((b) => [b.id, b]));
    assert.deepEqual(byId.get('evt-cli-1')?.data, { total: 42, note: 'café' });
    assert.deepEqual(byId.get('evt-cli-2')?.data, { fromFile: true });
    for (const r of hook.requests) assert.equal(verifyWssRequest(added.secret, r.headers, r.body).ok, true);
  });

  it('creates an API key that works as a tenant token', async () => {
    const tenant = newTenant();
    await ok(['tenants', 'create', tenant]);
    const out = await ok(['keys', 'create', tenant, '--name', 'deploy']);
    const key = /^key: (wsk_\S+)$/m.exec(out)?.[1];
    assert.ok(key, out);
    assert.match(out, /^created key key_[0-9a-f]+$/m);
    const list = JSON.parse(await ok(['tenants', 'list', '--json'], { WSS_TOKEN: key }));
    assert.deepEqual(
      list.items.map((t: any) => t.id),
      [tenant],
    );
  });

  it('exits 1 with the API error on stderr', async () => {
    const tenant = newTenant();
    await ok(['tenants', 'create', tenant]);
    const res = await wss(['endpoints', 'get', tenant, 'ep_missing']);
    assert.equal(res.code, 1);
    assert.equal(res.stdout, '');
    assert.match(res.stderr, /^error 404 not_found: endpoint ep_missing not found\n$/);

    const json = await wss(['endpoints', 'get', tenant, 'ep_missing', '--json']);
    assert.equal(json.code, 1);
    assert.equal(JSON.parse(json.stderr).error.code, 'not_found');

    const invalid = await wss(['endpoints', 'add', tenant, '--url', 'http://10.0.0.1/', '--events', 'a.b']);
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /^error 400 destination_not_allowed: /);

    const denied = await wss(['tenants', 'list'], { WSS_TOKEN: 'wsk_wrong' });
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /^error 401 unauthorized: /);
  });

  it('exits 1 when the API cannot be reached', async () => {
    const res = await wss(['tenants', 'list'], { WSS_API_URL: 'http://127.0.0.1:9' });
    assert.equal(res.code, 1);
    assert.match(res.stderr, /cannot reach the API at http:\/\/127\.0\.0\.1:9/);
  });

  it('exits 2 on usage errors', async () => {
    const unknown = await wss(['endpoints', 'frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "endpoints frobnicate"/);

    const missingFlag = await wss(['endpoints', 'add', 'acme', '--events', 'a.b']);
    assert.equal(missingFlag.code, 2);
    assert.match(missingFlag.stderr, /missing --url/);

    const missingArg = await wss(['endpoints', 'get', 'acme']);
    assert.equal(missingArg.code, 2);
    assert.match(missingArg.stderr, /missing <endpointId>/);

    const badJson = await wss(['events', 'publish', 'acme', '--type', 'a.b', '--data', '{nope']);
    assert.equal(badJson.code, 2);
    assert.match(badJson.stderr, /--data is not valid JSON/);

    const nothing = await wss([]);
    assert.equal(nothing.code, 2);
    assert.match(nothing.stdout, /^Usage: wss/);

    const help = await wss(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: wss/);
  });

  it('exits 2 on an unknown option or an option without its value', async () => {
    const res = await wss(['tenants', 'list', '--bogus']);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /--bogus/);
    const noValue = await wss(['endpoints', 'add', 'acme', '--events', 'a.b', '--url']);
    assert.equal(noValue.code, 2, noValue.stderr);
    assert.match(noValue.stderr, /--url/);
  });

  it('exits 2 when there is no token', async () => {
    const res = await wss(['tenants', 'list'], { WSS_TOKEN: '' });
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /no token/);
  });
});
