import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';

const root = path.resolve(__dirname, '../..');

describe('docker-compose.yml', () => {
  it('is a valid Compose file according to docker-compose itself', () => {
    const result = spawnSync('docker-compose', ['-f', path.join(root, 'docker-compose.yml'), 'config'], {
      encoding: 'utf8',
      env: { ...process.env, WSS_ADMIN_TOKEN: 'test-token-0123456789', WSS_MASTER_KEY: 'A'.repeat(43) + '=' },
    });
    assert.ok(
      !result.error,
      `docker-compose is required to validate docker-compose.yml (apt-get install docker-compose): ${result.error?.message}`,
    );
    assert.equal(result.status, 0, result.stderr);
    for (const service of ['temporal', 'temporal-ui', 'postgresql', 'redis', 'worker', 'consumer', 'api']) {
      assert.match(result.stdout, new RegExp(`^  ${service}:$`, 'm'), `service ${service}`);
    }
    assert.match(result.stdout, /--appendonly/);
  });

  it('builds the service on a glibc Node image (Temporal has no musl bridge)', async () => {
    const { readFile } = await import('node:fs/promises');
    const dockerfile = await readFile(path.join(root, 'Dockerfile'), 'utf8');
    const bases = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1] ?? '');
    assert.ok(bases.length > 0);
    for (const base of bases) assert.doesNotMatch(base, /alpine/i);
  });
});
