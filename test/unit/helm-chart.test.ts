import assert from 'node:assert/strict';
import { supervisorGraceSeconds } from '../../src/main/shutdown';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import ipaddr from 'ipaddr.js';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { configSchema } from '../../src/infra/config';
import { chartConfigKeys, withGeneratedLists } from '../../scripts/helm-schema';

/**
 * The Helm chart, checked offline: `helm lint --strict` and `helm template` (Helm built from the Go module proxy by
 * scripts/helm-tools.mjs) over the chart's ci/ values files, every rendered object validated strictly by
 * tools/k8s-validate (k8s.io/api types, KEDA's CRD schemas and scaler settings, Prometheus Operator types), and the
 * properties the deployment relies on asserted on the rendered objects.
 */

const root = path.resolve(__dirname, '../..');
const chart = path.join(root, 'deploy', 'helm', 'webhook-sender');
const fixtures = path.join(root, 'deploy', 'helm', 'test-fixtures');
const ciFiles = readdirSync(path.join(chart, 'ci'))
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((f) => path.join(chart, 'ci', f));

interface ToolPaths {
  helm: string;
  validator: string;
  kedaCrds: string;
  kedaScalers: string;
  missing: string[];
}

type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec?: any;
  data?: Record<string, string>;
};

let tools: ToolPaths;

function run(cmd: string, args: string[], input?: string) {
  const result = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', input, maxBuffer: 64 * 1024 * 1024 });
  assert.ok(!result.error, `${cmd}: ${result.error?.message}`);
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function helm(...args: string[]) {
  return run(tools.helm, args);
}

/** `helm template` with the given values files; fails the test with Helm's message if it does not render. */
function render(...valuesFiles: string[]): string {
  const result = helm('template', 'wss', chart, ...valuesFiles.flatMap((f) => ['-f', f]));
  assert.equal(result.status, 0, `helm template ${valuesFiles.join(' ')}:\n${result.stderr}`);
  return result.stdout;
}

function validate(manifests: string) {
  return run(tools.validator, ['-crd', tools.kedaCrds, '-keda-scalers', tools.kedaScalers, '-'], manifests);
}

function objects(manifests: string): K8sObject[] {
  return parseAllDocuments(manifests)
    .map((doc) => doc.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null && typeof o === 'object');
}

const byKind = (objs: K8sObject[], kind: string) => objs.filter((o) => o.kind === kind);

function deployment(objs: K8sObject[], role: string): K8sObject {
  const found = byKind(objs, 'Deployment').find((d) => d.metadata.name.endsWith(`-${role}`));
  assert.ok(found, `no ${role} Deployment`);
  return found;
}

const rendered = new Map<string, K8sObject[]>();

/** Variables that must never be in a ConfigMap. */
const SECRET_VARIABLES = [
  'WSS_ADMIN_TOKEN',
  'WSS_MASTER_KEY',
  'WSS_OPERATOR_WEBHOOK_SECRET',
  'TEMPORAL_API_KEY',
  'TEMPORAL_TLS_CLIENT_KEY_DATA',
];

describe('Helm chart deploy/helm/webhook-sender', () => {
  before(() => {
    const paths = run(process.execPath, [path.join(root, 'scripts', 'helm-tools.mjs'), 'paths']);
    tools = JSON.parse(paths.stdout) as ToolPaths;
    assert.deepEqual(
      tools.missing,
      [],
      'helm and tools/k8s-validate are built by `node scripts/bootstrap.mjs --test` (or `node scripts/helm-tools.mjs install`; needs Go)',
    );
    for (const file of ciFiles) rendered.set(path.basename(file), objects(render(file)));
  });

  it('passes helm lint --strict with every ci/ values file', () => {
    assert.ok(ciFiles.length >= 6, 'the values matrix');
    for (const file of ciFiles) {
      const result = helm('lint', '--strict', chart, '-f', file);
      assert.equal(result.status, 0, `${path.basename(file)}:\n${result.stdout}${result.stderr}`);
    }
  });

  it('renders every ci/ values file into objects that all pass strict validation', () => {
    for (const file of ciFiles) {
      const manifests = render(file);
      const result = validate(manifests);
      assert.equal(result.status, 0, `${path.basename(file)}:\n${result.stderr}`);
      // Every object was checked (none skipped as unknown): one "ok" line per rendered object.
      const okLines = result.stdout.split('\n').filter((l) => l.startsWith('ok '));
      assert.equal(okLines.length, objects(manifests).length, `${path.basename(file)}:\n${result.stdout}`);
    }
  });

  it('covers the matrix: minimal, production, KEDA on and off, NetworkPolicy on and off, ServiceMonitor on', () => {
    const kinds = (name: string) => new Set((rendered.get(name) ?? []).map((o) => o.kind));
    const all = [...rendered.keys()];
    assert.ok(all.includes('minimal-values.yaml') && all.includes('production-values.yaml'));
    assert.ok(
      all.some((f) => kinds(f).has('ScaledObject')),
      'KEDA on',
    );
    assert.ok(
      all.some((f) => !kinds(f).has('ScaledObject') && kinds(f).has('HorizontalPodAutoscaler')),
      'KEDA off, CPU HPAs',
    );
    assert.ok(
      all.some((f) => kinds(f).has('NetworkPolicy')),
      'NetworkPolicy on',
    );
    assert.ok(
      all.some((f) => !kinds(f).has('NetworkPolicy')),
      'NetworkPolicy off',
    );
    assert.ok(
      all.some((f) => kinds(f).has('ServiceMonitor') && kinds(f).has('PrometheusRule')),
      'ServiceMonitor on',
    );
    assert.ok(kinds('minimal-values.yaml').has('NetworkPolicy'), 'the NetworkPolicy is on by default');
  });

  it('runs every pod non-root, read-only, without capabilities, under RuntimeDefault seccomp, /tmp an emptyDir', () => {
    for (const [file, objs] of rendered) {
      for (const d of byKind(objs, 'Deployment')) {
        const pod = d.spec.template.spec;
        const where = `${file} ${d.metadata.name}`;
        assert.equal(pod.securityContext.runAsNonRoot, true, where);
        assert.ok(Number.isInteger(pod.securityContext.runAsUser) && pod.securityContext.runAsUser > 0, where);
        assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault', where);
        assert.equal(pod.automountServiceAccountToken, false, where);
        for (const c of pod.containers) {
          assert.equal(c.securityContext.readOnlyRootFilesystem, true, where);
          assert.equal(c.securityContext.allowPrivilegeEscalation, false, where);
          assert.deepEqual(c.securityContext.capabilities.drop, ['ALL'], where);
          assert.equal(c.securityContext.runAsNonRoot, true, where);
          const tmp = c.volumeMounts.find((m: { mountPath: string }) => m.mountPath === '/tmp');
          assert.ok(tmp, `${where}: /tmp mount`);
          assert.ok(pod.volumes.find((v: any) => v.name === tmp.name).emptyDir, `${where}: /tmp is an emptyDir`);
          assert.equal(c.livenessProbe.httpGet.path, '/livez', where);
          assert.equal(c.readinessProbe.httpGet.path, '/readyz', where);
          assert.equal(c.readinessProbe.httpGet.port, 'ops', where);
          assert.ok(c.resources.requests, `${where}: resources`);
        }
      }
    }
  });

  it('keeps secrets out of ConfigMaps: they come from the named Secrets, and only to the roles that need them', () => {
    const known = new Set(Object.keys(configSchema.shape));
    for (const [file, objs] of rendered) {
      for (const cm of byKind(objs, 'ConfigMap')) {
        for (const [key, value] of Object.entries(cm.data ?? {})) {
          assert.ok(known.has(key), `${file}: ConfigMap sets ${key}, which src/infra/config.ts does not read`);
          assert.ok(!SECRET_VARIABLES.includes(key), `${file}: secret ${key} in a ConfigMap`);
          if (key === 'REDIS_URL') assert.doesNotMatch(value, /@/, `${file}: credentials in REDIS_URL`);
        }
      }
      for (const d of byKind(objs, 'Deployment')) {
        for (const env of d.spec.template.spec.containers[0].env ?? []) {
          if (SECRET_VARIABLES.includes(env.name) || env.name === 'REDIS_URL') {
            assert.ok(env.valueFrom?.secretKeyRef?.name, `${file} ${d.metadata.name}: ${env.name} not from a Secret`);
          }
        }
      }
    }
    const prod = rendered.get('production-values.yaml') ?? [];
    const envNames = (role: string) =>
      deployment(prod, role).spec.template.spec.containers[0].env.map((e: { name: string }) => e.name);
    assert.ok(envNames('api').includes('WSS_ADMIN_TOKEN'));
    assert.ok(!envNames('worker').includes('WSS_ADMIN_TOKEN'), 'the admin token only reaches the API');
    assert.ok(!envNames('consumer').includes('WSS_ADMIN_TOKEN'));
    for (const role of ['api', 'consumer', 'worker']) assert.ok(envNames(role).includes('WSS_MASTER_KEY'));
    assert.ok(envNames('worker').includes('REDIS_URL'), 'REDIS_URL with credentials from redis.existingSecret');
  });

  it("denies the worker's egress to the pod and Service CIDRs and the metadata addresses, and allows the internet", () => {
    for (const file of ['minimal-values.yaml', 'production-values.yaml']) {
      const values = parseYaml(readFileSync(path.join(chart, 'ci', file), 'utf8')) as any;
      const defaults = parseYaml(readFileSync(path.join(chart, 'values.yaml'), 'utf8')) as any;
      const np = { ...defaults.networkPolicy, ...values.networkPolicy };
      const [policy] = byKind(rendered.get(file) ?? [], 'NetworkPolicy');
      assert.ok(policy, file);
      assert.equal(policy.spec.podSelector.matchLabels['app.kubernetes.io/component'], 'worker');
      assert.deepEqual(policy.spec.policyTypes, ['Egress']);
      /** Is there any egress rule that lets `ip` through on some port? Selector rules only reach matching pods. */
      const ipAllowed = (ip: string) => {
        const addr = ipaddr.parse(ip);
        return policy.spec.egress.some((rule: any) =>
          (rule.to ?? []).some((peer: any) => {
            if (!peer.ipBlock) return false;
            const inCidr = (cidr: string) => {
              const [net, bits] = ipaddr.parseCIDR(cidr);
              return net.kind() === addr.kind() && addr.match(net, bits);
            };
            return inCidr(peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some(inCidr);
          }),
        );
      };
      const firstAddress = (cidr: string) => ipaddr.parseCIDR(cidr)[0].toString();
      const denied = [
        '169.254.169.254',
        '100.100.100.200',
        'fd00:ec2::254',
        'fe80::1',
        ...np.podCidrs.map(firstAddress),
        ...np.serviceCidrs.map(firstAddress),
      ];
      for (const ip of denied) assert.equal(ipAllowed(ip), false, `${file}: egress to ${ip} must be denied`);
      for (const ip of ['203.0.113.7', '2001:db8::7']) assert.equal(ipAllowed(ip), true, `${file}: ${ip}`);
      const dnsRule = policy.spec.egress.find((r: any) => r.ports?.some((p: any) => p.port === 53));
      assert.ok(dnsRule, `${file}: DNS`);
    }
  });

  it('gives each pod a termination grace period longer than the drain grace plus its preStop sleep', () => {
    for (const [file, objs] of rendered) {
      const [cm] = byKind(objs, 'ConfigMap');
      const graceMs = Number(cm?.data?.WSS_SHUTDOWN_GRACE_MS);
      assert.ok(graceMs > 0, file);
      for (const d of byKind(objs, 'Deployment')) {
        const pod = d.spec.template.spec;
        const preStopSeconds = pod.containers[0].lifecycle?.preStop?.sleep?.seconds ?? 0;
        assert.ok(
          // What the service itself asks of its supervisor (the drain's hard deadline plus time to exit), after the
          // preStop sleep that runs before SIGTERM.
          pod.terminationGracePeriodSeconds >=
            supervisorGraceSeconds({ WSS_SHUTDOWN_GRACE_MS: graceMs }) + preStopSeconds,
          `${file} ${d.metadata.name}: ${pod.terminationGracePeriodSeconds}s vs ${graceMs} ms + ${preStopSeconds}s`,
        );
      }
      const api = deployment(objs, 'api');
      assert.ok(api.spec.template.spec.containers[0].lifecycle.preStop.sleep.seconds > 0, `${file}: API preStop`);
      assert.ok(byKind(objs, 'PodDisruptionBudget').length >= 3, `${file}: PDBs`);
    }
    // The production file raises the grace; the period follows it.
    const prod = rendered.get('production-values.yaml') ?? [];
    assert.ok(deployment(prod, 'worker').spec.template.spec.terminationGracePeriodSeconds > 90);
  });

  it("runs as the image's own numeric user (the Dockerfile's APP_UID)", () => {
    const dockerfile = readFileSync(path.join(__dirname, '..', '..', 'Dockerfile'), 'utf8');
    const uid = Number(/^ARG APP_UID=(\d+)$/m.exec(dockerfile)?.[1]);
    assert.ok(uid > 0, 'Dockerfile declares ARG APP_UID');
    for (const [file, objs] of rendered) {
      for (const d of byKind(objs, 'Deployment')) {
        const pod = d.spec.template.spec;
        assert.equal(pod.securityContext.runAsUser, uid, `${file} ${d.metadata.name}`);
        assert.equal(pod.containers[0].securityContext.runAsUser, uid, `${file} ${d.metadata.name}`);
      }
    }
  });

  it('names each consumer after its pod through the downward API', () => {
    for (const [file, objs] of rendered) {
      const env = deployment(objs, 'consumer').spec.template.spec.containers[0].env;
      const name = env.find((e: { name: string }) => e.name === 'WSS_CONSUMER_NAME');
      assert.equal(name?.valueFrom?.fieldRef?.fieldPath, 'metadata.name', file);
      assert.deepEqual(deployment(objs, 'consumer').spec.template.spec.containers[0].args, ['consumer'], file);
    }
  });

  it('scales the consumer on its group lag and the worker on its task-queue backlog, with the names the roles use', () => {
    const prod = rendered.get('production-values.yaml') ?? [];
    const [cm] = byKind(prod, 'ConfigMap');
    const scaled = byKind(prod, 'ScaledObject');
    const consumer = scaled.find((s) => s.spec.scaleTargetRef.name === deployment(prod, 'consumer').metadata.name);
    const worker = scaled.find((s) => s.spec.scaleTargetRef.name === deployment(prod, 'worker').metadata.name);
    assert.ok(consumer && worker);
    const [redis] = consumer.spec.triggers;
    assert.equal(redis.type, 'redis-streams');
    assert.equal(redis.metadata.stream, cm?.data?.WSS_STREAM);
    assert.equal(redis.metadata.consumerGroup, cm?.data?.WSS_CONSUMER_GROUP);
    assert.ok(Number(redis.metadata.lagCount) > 0, 'lag mode');
    const [temporal] = worker.spec.triggers;
    assert.equal(temporal.type, 'temporal');
    assert.equal(temporal.metadata.taskQueue, cm?.data?.WSS_TASK_QUEUE);
    assert.equal(temporal.metadata.namespace, cm?.data?.TEMPORAL_NAMESPACE);
    assert.equal(temporal.metadata.endpoint, cm?.data?.TEMPORAL_ADDRESS);
    for (const s of [consumer, worker]) {
      assert.ok(s.spec.minReplicaCount >= 1 && s.spec.maxReplicaCount > s.spec.minReplicaCount);
      assert.ok(s.spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds > 0);
    }
    // An autoscaler owns the replica count of what it scales.
    assert.equal(deployment(prod, 'worker').spec.replicas, undefined);
    assert.ok(!byKind(prod, 'HorizontalPodAutoscaler').some((h) => h.metadata.name.endsWith('-worker')));
    const hpa = rendered.get('hpa-values.yaml') ?? [];
    assert.equal(byKind(hpa, 'HorizontalPodAutoscaler').length, 3);
    assert.equal(byKind(hpa, 'ScaledObject').length, 0);
  });

  it('carries deploy/prometheus/alerts.yml as the PrometheusRule, and scrape jobs named as the rules expect', () => {
    const original = readFileSync(path.join(root, 'deploy', 'prometheus', 'alerts.yml'), 'utf8');
    const copy = readFileSync(path.join(chart, 'files', 'alerts.yml'), 'utf8');
    assert.equal(
      copy,
      original,
      'deploy/helm/webhook-sender/files/alerts.yml must be a copy of deploy/prometheus/alerts.yml',
    );
    const objs = rendered.get('servicemonitor-values.yaml') ?? [];
    const [rule] = byKind(objs, 'PrometheusRule');
    assert.deepEqual(rule?.spec, parseYaml(original));
    const [monitor] = byKind(objs, 'ServiceMonitor');
    const relabel = monitor?.spec.endpoints[0].relabelings[0];
    assert.equal(relabel.replacement, 'wss-$1', 'job = wss-api, wss-consumer, wss-worker');
    assert.match(original, /job=~"wss-worker\|wss-worker-sdk"/);
    assert.equal(monitor?.spec.endpoints[0].metricRelabelings[0].replacement, 'wss-worker-sdk');
  });

  it('fails strict validation when a misspelt field reaches a rendered object', () => {
    const manifests = render(path.join(fixtures, 'misspelt-field-values.yaml'));
    const result = validate(manifests);
    assert.equal(result.status, 1, result.stdout);
    assert.match(
      result.stderr,
      /Deployment\/wss-webhook-sender-worker: .*unknown field "spec\.template\.spec\.containers\[0\]\.resources\.limit"/,
    );
  });

  it('fails strict validation of a misspelt KEDA setting, an unknown CRD field and a misspelt auth parameter', () => {
    const manifests = render(path.join(chart, 'ci', 'production-values.yaml'));
    const cases: Array<[string, string, RegExp]> = [
      ['lagCount:', 'lagcount:', /metadata\.lagcount: not a setting of KEDA's "redis-streams" scaler/],
      ['pollingInterval:', 'pollingIntervall:', /unknown field "spec\.pollingIntervall"/],
      ['- parameter: apiKey', '- parameter: apikey', /parameter "apikey" is not an auth parameter/],
      ['- parameter: password', '- parameter: passwd', /parameter "passwd" is not an auth parameter/],
    ];
    for (const [from, to, expected] of cases) {
      const source =
        from === '- parameter: apiKey' ? render(path.join(chart, 'examples', 'temporal-cloud-values.yaml')) : manifests;
      assert.ok(source.includes(from), from);
      const result = validate(source.replace(from, to));
      assert.equal(result.status, 1, `${to}\n${result.stdout}`);
      assert.match(result.stderr, expected);
    }
  });

  it('fails strict validation of an invalid ipBlock CIDR, and of an except outside its cidr (NetworkPolicy)', () => {
    const manifests = render(path.join(chart, 'ci', 'minimal-values.yaml'));
    const cases: Array<[string, string, RegExp]> = [
      ['cidr: 0.0.0.0/0', 'cidr: 0.0.0.0/33', /ipBlock\.cidr "0\.0\.0\.0\/33": not a CIDR/],
      ['- 10.244.0.0/16', '- 10.300.0.0/16', /except "10\.300\.0\.0\/16": not a CIDR/],
      ['cidr: ::/0', 'cidr: ::/129', /not a CIDR/],
      ['cidr: 0.0.0.0/0', 'cidr: 10.0.0.0/8', /except "169\.254\.0\.0\/16" is not inside cidr "10\.0\.0\.0\/8"/],
    ];
    for (const [from, to, expected] of cases) {
      assert.ok(manifests.includes(from), from);
      const result = validate(manifests.replace(from, to));
      assert.equal(result.status, 1, `${to}\n${result.stdout}`);
      assert.match(result.stderr, expected, to);
    }
  });

  it('rejects a misspelt values key and a secret among the settings (values.schema.json)', () => {
    for (const [fixture, expected] of [
      ['misspelt-key-values.yaml', /enabeld/],
      ['secret-in-config-values.yaml', /WSS_ADMIN_TOKEN/],
    ] as const) {
      for (const command of ['template', 'lint']) {
        const result = helm(
          command,
          ...(command === 'template' ? ['wss'] : ['--strict']),
          chart,
          '-f',
          path.join(fixtures, fixture),
        );
        assert.notEqual(result.status, 0, `${command} ${fixture} must fail`);
        assert.match(result.stderr + result.stdout, expected, `${command} ${fixture}`);
      }
    }
    const noSecret = helm('template', 'wss', chart);
    assert.notEqual(noSecret.status, 0, 'the Secret name is required');
    assert.match(noSecret.stderr, /existingSecret/);
  });

  it('refuses values that would render a broken or unsafe release, each with a message naming the value', () => {
    const base = ['--set', 'secrets.existingSecret=wss-secrets'];
    const env = (role: string, entries: unknown[]) => ['--set-json', `${role}.env=${JSON.stringify(entries)}`];
    const cases: Array<[string, string[], RegExp]> = [
      // M2: <role>.env cannot override what the chart manages or carry a secret in plain text.
      ['env overrides the grace', env('worker', [{ name: 'WSS_SHUTDOWN_GRACE_MS', value: '600000' }]), /env/],
      ['env overrides the ops port', env('api', [{ name: 'WSS_OPS_PORT', value: '9999' }]), /env/],
      ['plain secret in env', env('worker', [{ name: 'REDIS_PASSWORD', value: 'hunter2' }]), /env/],
      [
        'plain gRPC metadata in env',
        env('worker', [{ name: 'TEMPORAL_GRPC_META_AUTHORIZATION', value: 'Bearer x' }]),
        /env/,
      ],
      // M3: config: is an allow-list of the service's own settings.
      ['gRPC metadata in config', ['--set', 'config.TEMPORAL_GRPC_META_AUTHORIZATION=x'], /TEMPORAL_GRPC_META/],
      ['CLI token in config', ['--set', 'config.WSS_TOKEN=x'], /WSS_TOKEN/],
      ['misspelt setting', ['--set', 'config.WSS_LOG_LEVL=debug'], /WSS_LOG_LEVL/],
      ['Redis password in config', ['--set', 'config.REDIS_PASSWORD=x'], /REDIS_PASSWORD/],
      // M7: certificates with TLS off crash-loop the service.
      [
        'client certificate without TLS',
        ['--set', 'temporal.clientCert.existingSecret=mtls', '--set', 'temporal.tls=false'],
        /temporal\.tls must be true/,
      ],
      [
        'server CA without TLS',
        ['--set', 'temporal.serverCA.existingSecret=ca', '--set', 'temporal.tls=false'],
        /temporal\.tls must be true/,
      ],
      // L8: the NetworkPolicy's ranges.
      ['no metadata ranges', ['--set-json', 'networkPolicy.metadataCidrs=[]'], /metadataCidrs/],
      ['pod ranges removed', ['--set-json', 'networkPolicy.podCidrs=null'], /missing property 'podCidrs'/],
      ['IPv4 prefix over 32', ['--set-json', 'networkPolicy.podCidrs=["10.0.0.0/33"]'], /podCidrs/],
      ['IPv4 octet over 255', ['--set-json', 'networkPolicy.serviceCidrs=["10.300.0.0/16"]'], /serviceCidrs/],
      ['IPv6 prefix over 128', ['--set-json', 'networkPolicy.extraDeniedCidrs=["fd00::/129"]'], /extraDeniedCidrs/],
      // L9: shutdown and ports.
      ['margin under 10 s', ['--set', 'shutdown.marginSeconds=3'], /marginSeconds/],
      ['ops port equal to the API port', ['--set', 'ports.ops=8080'], /ports\.ops/],
      ['grace under the attempt deadline', ['--set', 'shutdown.graceMs=10000'], /shutdown\.graceMs/],
      [
        'grace under a raised attempt deadline',
        ['--set', 'shutdown.graceMs=60000', '--set', 'config.WSS_HTTP_TOTAL_TIMEOUT_MS=90000'],
        /shutdown\.graceMs/,
      ],
    ];
    const wrong: string[] = [];
    for (const [name, args, expected] of cases) {
      const result = helm('template', 'wss', chart, ...base, ...args);
      if (result.status === 0) wrong.push(`${name}: rendered`);
      else if (!expected.test(result.stderr)) wrong.push(`${name}: ${expected} not in ${result.stderr}`);
    }
    assert.deepEqual(wrong, []);
    // What stays allowed: secrets from a Secret through valueFrom, any setting of the service, OTel settings.
    const allowed = helm(
      'template',
      'wss',
      chart,
      ...base,
      ...env('worker', [
        { name: 'TEMPORAL_GRPC_META_AUTHORIZATION', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
        { name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: 's', key: 'p' } } },
        { name: 'WSS_LOG_LEVEL', value: 'debug' },
      ]),
      '--set',
      'config.OTEL_EXPORTER_OTLP_ENDPOINT=http://otel-collector:4318',
      '--set',
      'config.WSS_HTTP_TOTAL_TIMEOUT_MS=30000',
    );
    assert.equal(allowed.status, 0, allowed.stderr);
    assert.equal(validate(allowed.stdout).status, 0);
  });

  it("lists in values.schema.json exactly the service's settings the chart does not manage (scripts/helm-schema.ts)", () => {
    const schema = JSON.parse(readFileSync(path.join(chart, 'values.schema.json'), 'utf8'));
    assert.deepEqual(schema, withGeneratedLists(schema), 'run `node --import tsx scripts/helm-schema.ts`');
    const keys = chartConfigKeys();
    for (const k of ['WSS_LOG_LEVEL', 'WSS_HTTP_TOTAL_TIMEOUT_MS', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_SERVICE_NAME'])
      assert.ok(keys.includes(k), k);
    for (const k of [...SECRET_VARIABLES, 'REDIS_PASSWORD', 'WSS_OPS_PORT', 'WSS_SHUTDOWN_GRACE_MS', 'WSS_TOKEN'])
      assert.ok(!keys.includes(k), k);
    // The template's fallback for the attempt deadline is the service's default.
    const helpers = readFileSync(path.join(chart, 'templates', '_helpers.tpl'), 'utf8');
    const fallback = Number(/WSS_HTTP_TOTAL_TIMEOUT_MS \| default (\d+)/.exec(helpers)?.[1]);
    assert.equal(fallback, configSchema.shape.WSS_HTTP_TOTAL_TIMEOUT_MS.parse(undefined));
  });

  it('warns in NOTES.txt when the NetworkPolicy is off, and passes the Redis ACL user to KEDA', () => {
    // `helm install --dry-run` needs a cluster; NOTES.txt rendered offline through `tpl` in a copy of the chart.
    const copy = mkdtempSync(path.join(tmpdir(), 'wss-chart-'));
    try {
      cpSync(chart, copy, { recursive: true });
      cpSync(path.join(chart, 'templates', 'NOTES.txt'), path.join(copy, 'notes-source.txt'));
      writeFileSync(
        path.join(copy, 'templates', 'notes-check.yaml'),
        'notes: |\n{{ tpl (.Files.Get "notes-source.txt") . | indent 2 }}\n',
      );
      const notes = (file: string) => {
        const result = helm('template', 'wss', copy, '-f', file, '--show-only', 'templates/notes-check.yaml');
        assert.equal(result.status, 0, result.stderr);
        return (parseYaml(result.stdout) as { notes: string }).notes;
      };
      assert.match(
        notes(path.join(chart, 'ci', 'networkpolicy-off-values.yaml')),
        /WARNING: networkPolicy\.enabled is false/,
      );
      assert.doesNotMatch(notes(path.join(chart, 'ci', 'minimal-values.yaml')), /WARNING/);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
    const withUser = objects(render(path.join(chart, 'ci', 'production-values.yaml')));
    const auth = byKind(withUser, 'TriggerAuthentication').find((t) => t.metadata.name.endsWith('-redis'));
    const params = auth?.spec.secretTargetRef.map((r: { parameter: string }) => r.parameter);
    assert.deepEqual(params, ['username', 'password']);
  });

  it("renders the README's helm install command, with the example values file, into valid objects", () => {
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Deploy on Kubernetes'));
    assert.ok(section.length > 0 && readme.includes('## Deploy on Kubernetes'), 'README section');
    const line = section.split('\n').find((l) => l.startsWith('helm install '));
    assert.ok(line, 'a `helm install` line in the section');
    const args = line.trim().split(/\s+/).slice(2);
    assert.ok(args.includes('deploy/helm/webhook-sender/examples/temporal-cloud-values.yaml'), line);
    // `helm template` takes the install command's arguments as they are.
    const result = helm('template', ...args);
    assert.equal(result.status, 0, `${line}\n${result.stderr}`);
    const checked = validate(result.stdout);
    assert.equal(checked.status, 0, checked.stderr);
    const objs = objects(result.stdout);
    assert.equal(byKind(objs, 'ScaledObject').length, 2);
    assert.ok(
      byKind(objs, 'TriggerAuthentication').some((t) =>
        t.spec.secretTargetRef.some((r: any) => r.parameter === 'apiKey'),
      ),
    );
  });
});
