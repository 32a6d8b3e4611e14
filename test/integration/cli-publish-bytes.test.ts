import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { uniqueName } from '../support/services';
import { startStack } from '../support/stack';
import type { TestStack } from '../support/stack';

const ROOT = path.resolve(__dirname, '..', '..');

describe('wss events publish keeps --data byte for byte', () => {
  let stack: TestStack;
  let scratch: string;
  let tenant: string;

  before(async () => {
    stack = await startStack({ consumer: false, worker: false });
    scratch = mkdtempSync(path.join(tmpdir(), 'wss-cli-bytes-'));
    tenant = uniqueName('clibytes').replace(/[^A-Za-z0-9_-]/g, '_');
    assert.equal((await stack.api('POST', '/v1/tenants', { id: tenant })).status, 201);
  });
  after(async () => {
    await stack.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  function wss(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['bin/wss.js', ...args], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', WSS_API_URL: stack.apiUrl, WSS_TOKEN: stack.adminToken },
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

  async function streamData(entryId: string): Promise<string> {
    const entries = await stack.redis.xrangeBuffer(stack.config.WSS_STREAM, entryId, entryId);
    const fields = entries[0]?.[1] ?? [];
    for (let i = 0; i + 1 < fields.length; i += 2) {
      if (fields[i]!.toString('latin1') === 'data') return fields[i + 1]!.toString('utf8');
    }
    throw new Error(`stream entry ${entryId} has no data field`);
  }

  const texts = [
    '{"orderId":12345678901234567890}',
    '1.0',
    '1E5',
    '-0',
    '{"s":"caf\\u00e9 😀", "n": [ 1.50 ,2 ]}',
    '{\n  "pretty": true\n}',
  ];
  for (const [i, text] of texts.entries()) {
    it(`sends ${JSON.stringify(text)} as written, from --data and from --data @file`, async () => {
      const file = path.join(scratch, `data-${i}.json`);
      writeFileSync(file, text);
      for (const data of [text, `@${file}`]) {
        // `--data=` so that a value starting with a dash (`-0`) is not read as an option.
        const res = await wss(['events', 'publish', tenant, '--type', 'cli.bytes', `--data=${data}`, '--json']);
        assert.equal(res.code, 0, res.stderr);
        const entryId = JSON.parse(res.stdout).streamEntryId as string;
        assert.equal(await streamData(entryId), text);
      }
    });
  }

  it('still refuses --data that is not strict JSON, before calling the API', async () => {
    for (const data of ['{"a":1,}', "{'a':1}", 'NaN', '']) {
      const res = await wss(['events', 'publish', tenant, '--type', 'cli.bytes', '--data', data]);
      assert.equal(res.code, 2, `${data}: ${res.stdout} ${res.stderr}`);
    }
  });
});
