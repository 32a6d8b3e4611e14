import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { uniqueName, waitFor } from '../support/services';
import { startStack } from '../support/stack';
import type { TestStack } from '../support/stack';

/**
 * Schemathesis generates requests from /openapi.json, valid and invalid, for every operation and checks each
 * answer: never a 5xx, and always a status, content type and body that the document describes. Installed by
 * `node scripts/bootstrap.mjs --test` (which `npm test` runs first) into .tools/schemathesis.
 */

const root = path.resolve(__dirname, '..', '..');
/** Test cases per operation and phase: enough to reach every validation branch, bounded for a 2-core machine. */
const MAX_EXAMPLES = 25;
const SEED = 20261130;
const CHECKS = [
  'not_a_server_error',
  'status_code_conformance',
  'content_type_conformance',
  'response_schema_conformance',
];

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, cwd: tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('schemathesis against the live API', () => {
  let stack: TestStack;
  let dir: string;
  const id = (label: string) => uniqueName(label).replace(/[^A-Za-z0-9_-]/g, '_');
  const fixtures = { tenant: id('st'), victim: id('st-victim'), endpoint: '', victimEndpoint: '', eventId: 'evt-st-1' };

  before(async () => {
    // Every host name resolves to a public address, so generated URLs pass the egress check without real DNS.
    // The consumer runs, so /healthz is healthy and published events start deliveries; no worker delivers them.
    stack = await startStack({
      worker: false,
      resolver: async () => [{ address: '93.184.216.34', family: 4 }],
    });
    for (const tenant of [fixtures.tenant, fixtures.victim]) {
      assert.equal((await stack.api('POST', '/v1/tenants', { id: tenant })).status, 201);
    }
    const endpoint = async () => {
      const res = await stack.api('POST', `/v1/tenants/${fixtures.tenant}/endpoints`, {
        url: 'https://hooks.example.com/wss',
        eventTypes: ['*'],
        transform: '{"body": data}',
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.id as string;
    };
    fixtures.endpoint = await endpoint();
    fixtures.victimEndpoint = await endpoint();
    const published = await stack.api('POST', `/v1/tenants/${fixtures.tenant}/events`, {
      type: 'st.fixture',
      data: {},
      id: fixtures.eventId,
    });
    assert.equal(published.status, 202, JSON.stringify(published.body));
    await waitFor('the fixture delivery', async () => {
      return (await stack.api('GET', `/v1/tenants/${fixtures.tenant}/deliveries/${fixtures.eventId}`)).status === 200;
    });
    dir = mkdtempSync(path.join(tmpdir(), 'wss-schemathesis-'));
  });
  after(async () => {
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds no 5xx and no answer the OpenAPI document does not describe', async () => {
    const bin = path.join(root, '.tools', 'schemathesis', 'bin', 'schemathesis');
    // Path parameters name resources that exist, so operations get past 404 and into their own logic; the
    // deletions work on resources of their own, so the others keep theirs.
    const config = path.join(dir, 'schemathesis.toml');
    writeFileSync(
      config,
      [
        // Each run starts clean: no crash replays from earlier runs, no files outside the temporary directory.
        '[cache]',
        'enabled = false',
        '[parameters]',
        `"path.tenantId" = "${fixtures.tenant}"`,
        `"path.endpointId" = "${fixtures.endpoint}"`,
        `"path.eventId" = "${fixtures.eventId}"`,
        '[[operations]]',
        'include-operation-id = "deleteTenant"',
        `parameters = { "path.tenantId" = "${fixtures.victim}" }`,
        '[[operations]]',
        'include-operation-id = "deleteEndpoint"',
        `parameters = { "path.endpointId" = "${fixtures.victimEndpoint}" }`,
        '',
      ].join('\n'),
    );
    const started = Date.now();
    const { code, output } = await run(
      bin,
      [
        '--config-file',
        config,
        'run',
        `${stack.apiUrl}/openapi.json`,
        '--header',
        `Authorization: Bearer ${stack.adminToken}`,
        '--checks',
        CHECKS.join(','),
        '--max-examples',
        String(MAX_EXAMPLES),
        '--seed',
        String(SEED),
        // One worker: hypothesis's source inspection is not thread-safe on every CPython (SystemError "AST
        // constructor recursion depth mismatch" on 3.11).
        '--workers',
        '1',
        '--generation-database',
        'none',
        '--request-timeout',
        '20',
        '--no-color',
      ],
      { ...process.env, SCHEMATHESIS_HOOKS: '' },
    ).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        assert.fail(`schemathesis is not installed at ${bin}: run \`node scripts/bootstrap.mjs --test\``);
      }
      throw err;
    });
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const failures = stack.logs.filter((line) => line.includes('api request failed'));
    assert.equal(code, 0, `schemathesis failed (exit ${code}, ${seconds} s):\n${output}\n${failures.join('\n')}`);
    console.log(
      `schemathesis: ${seconds} s, ${MAX_EXAMPLES} examples per operation\n${output.split('\n').slice(-25).join('\n')}`,
    );
  });
});
