import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';

const root = path.resolve(__dirname, '../..');
const ROLES = ['worker', 'consumer', 'api'] as const;

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile?: string };
  command?: string[];
  user?: string;
  read_only?: boolean;
  cap_drop?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  ports?: (string | { target: number; published?: number | string; host_ip?: string })[];
}

/** docker-compose.yml as docker-compose itself resolves it (anchors, merges and variables applied). */
function resolvedCompose(): { stdout: string; services: Record<string, ComposeService> } {
  const result = spawnSync('docker-compose', ['-f', path.join(root, 'docker-compose.yml'), 'config'], {
    encoding: 'utf8',
    env: { ...process.env, WSS_ADMIN_TOKEN: 'test-token-0123456789', WSS_MASTER_KEY: 'A'.repeat(43) + '=' },
  });
  assert.ok(
    !result.error,
    `docker-compose is required to validate docker-compose.yml (apt-get install docker-compose): ${result.error?.message}`,
  );
  assert.equal(result.status, 0, result.stderr);
  return {
    stdout: result.stdout,
    services: (parse(result.stdout) as { services: Record<string, ComposeService> }).services,
  };
}

function dockerfile(): string {
  return readFileSync(path.join(root, 'Dockerfile'), 'utf8');
}

describe('docker-compose.yml', () => {
  it('is a valid Compose file according to docker-compose itself', () => {
    const { stdout } = resolvedCompose();
    for (const service of ['temporal', 'temporal-ui', 'postgresql', 'redis', 'worker', 'consumer', 'api']) {
      assert.match(stdout, new RegExp(`^  ${service}:$`, 'm'), `service ${service}`);
    }
    assert.match(stdout, /--appendonly/);
  });

  it("runs the three roles from the one image the repo's Dockerfile builds, each chosen by its command", () => {
    const { services } = resolvedCompose();
    const images = new Set(ROLES.map((role) => services[role]?.image));
    assert.equal(images.size, 1, `one image for every role: ${[...images].join(', ')}`);
    for (const role of ROLES) {
      const service = services[role];
      assert.ok(service, role);
      assert.equal(service.build?.context, root, `${role} builds from the repo`);
      assert.equal(service.build?.dockerfile ?? 'Dockerfile', 'Dockerfile');
      assert.deepEqual(service.command, [role]);
    }
  });

  it('checks each role’s health on its ops port, hardened as in Kubernetes', () => {
    const { services } = resolvedCompose();
    for (const role of ROLES) {
      const service = services[role];
      assert.ok(service, role);
      assert.deepEqual(service.healthcheck?.test, ['CMD', '/app/bin/wss-role', 'ready'], `${role} health check`);
      const opsPort = Number(service.environment?.WSS_OPS_PORT ?? 9464);
      assert.equal(service.environment?.WSS_OPS_HOST, '0.0.0.0', `${role}: ops port reachable from outside`);
      const targets = (service.ports ?? []).map((p) =>
        typeof p === 'string' ? Number(p.split(':').at(-1)?.split('/')[0]) : p.target,
      );
      assert.ok(targets.includes(opsPort), `${role} publishes its ops port ${opsPort}`);
      assert.equal(service.read_only, true, `${role}: read-only root file system`);
      assert.deepEqual(service.cap_drop, ['ALL'], `${role}: capabilities`);
      assert.equal(service.user, undefined, `${role}: runs as the image's own non-root user`);
    }
  });
  it('publishes every port on the loopback interface only (Temporal, its UI, the API and the ops ports)', () => {
    const { services } = resolvedCompose();
    let published = 0;
    for (const [name, service] of Object.entries(services)) {
      for (const port of service.ports ?? []) {
        published += 1;
        const hostIp = typeof port === 'string' ? /^([^:]+):\d+:\d+/.exec(port)?.[1] : port.host_ip;
        assert.equal(hostIp, '127.0.0.1', `${name} publishes ${JSON.stringify(port)} on every interface`);
      }
    }
    assert.ok(published >= 6, `${published} published ports`);
  });
});

describe('Dockerfile', () => {
  it('builds the service on a glibc Node image (Temporal has no musl bridge)', () => {
    const bases = [...dockerfile().matchAll(/^(?:ARG\s+(?:BUILD_)?BASE_IMAGE=|FROM\s+)(\S+)/gm)].map((m) => m[1] ?? '');
    assert.ok(bases.length > 0);
    for (const base of bases) assert.doesNotMatch(base, /alpine/i);
  });

  it('takes its bases from the BASE_IMAGE and BUILD_BASE_IMAGE build arguments', () => {
    const froms = [...dockerfile().matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
    assert.deepEqual(froms, ['${BUILD_BASE_IMAGE}', '${BASE_IMAGE}']);
    assert.match(dockerfile(), /^ARG BASE_IMAGE=\S+$/m);
  });

  it('runs as a numeric non-root user (what runAsNonRoot can verify)', () => {
    const users = [...dockerfile().matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1] ?? '');
    assert.equal(users.length, 1);
    const uid = /^\$\{APP_UID\}/.test(users[0] ?? '')
      ? /^ARG APP_UID=(\d+)$/m.exec(dockerfile())?.[1]
      : /^(\d+)/.exec(users[0] ?? '')?.[1];
    assert.ok(uid !== undefined && Number(uid) > 0, `USER ${users[0]}`);
  });

  it('starts every role through bin/wss-role, each an entry point the build produces', () => {
    assert.match(dockerfile(), /^ENTRYPOINT \["\/app\/bin\/wss-role"\]$/m);
    const entry = readFileSync(path.join(root, 'bin', 'wss-role'), 'utf8');
    for (const role of [...ROLES, 'all-in-one']) {
      assert.match(entry, new RegExp(`\\b${role}\\b.*\\)`), `wss-role knows ${role}`);
      assert.ok(existsSync(path.join(root, 'src', 'main', `${role}.ts`)), `src/main/${role}.ts`);
    }
  });
});
