import assert from 'node:assert/strict';
import { METRICS } from '../../src/infra/metrics';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { stringify as toYaml } from 'yaml';
import { alertRules } from '../../scripts/docs-tables';

const root = path.resolve(__dirname, '../..');
const prometheusDir = path.join(root, 'deploy', 'prometheus');
const dashboardFile = path.join(root, 'deploy', 'grafana', 'wss-dashboard.json');

/** The service's own metrics (issue 13), with their Prometheus types. */
/** The service's own metrics, from their one declaration. */
const SERVICE_METRICS: Readonly<Record<string, 'counter' | 'gauge' | 'histogram'>> = Object.fromEntries(
  Object.values(METRICS).map((metric) => [metric.name, metric.kind]),
);

/**
 * Metrics of the Temporal SDK runtime's Prometheus exporter (sdk-core, default prefix `temporal_`, default units:
 * histograms in milliseconds without a unit suffix), of Prometheus itself (`up`) and of the blackbox exporter.
 */
const OTHER_METRICS: Readonly<Record<string, 'counter' | 'gauge' | 'histogram'>> = {
  temporal_worker_task_slots_available: 'gauge',
  temporal_worker_task_slots_used: 'gauge',
  temporal_num_pollers: 'gauge',
  temporal_activity_schedule_to_start_latency: 'histogram',
  temporal_workflow_task_schedule_to_start_latency: 'histogram',
  up: 'gauge',
  probe_success: 'gauge',
};

const KNOWN = { ...SERVICE_METRICS, ...OTHER_METRICS };

/** Runs promtool; fails the test with its output when it exits non-zero or is missing. */
function promtool(...args: string[]): string {
  const result = spawnSync('promtool', args, { cwd: prometheusDir, encoding: 'utf8' });
  assert.ok(
    !result.error,
    `promtool is required (Debian package prometheus; node scripts/bootstrap.mjs --test): ${result.error?.message}`,
  );
  assert.equal(result.status, 0, `promtool ${args.join(' ')}\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/** Every metric name a PromQL expression selects: identifiers followed by `{`, `[`, or standing as a selector. */
function metricNames(expr: string): string[] {
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const names = new Set<string>();
  for (const match of withoutStrings.matchAll(/\b((?:wss|temporal)_[a-zA-Z0-9_]*|up|probe_success)\b/g)) {
    names.add(match[1] ?? '');
  }
  return [...names];
}

/** A name as queried (`x_bucket` of a histogram) mapped back to the metric; undefined when it is unknown. */
function knownMetric(name: string): string | undefined {
  if (KNOWN[name]) return name;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return KNOWN[base] === 'histogram' ? base : undefined;
}

/** Labels every scraped series has, besides a metric's own: Prometheus's target labels, and `le` of a bucket. */
const TARGET_LABELS = ['job', 'instance', 'le'];

/**
 * The labels an expression over only the service's own metrics aggregates by (`by (...)`) that none of its metrics
 * has (a `by (stream)` over a gauge without a stream label: one series with an empty label). Undefined when it also
 * reads other metrics (the Temporal SDK's labels are not declared here).
 */
function missingGroupingLabels(expr: string): string[] | undefined {
  const names = metricNames(expr).map((name) => knownMetric(name) ?? name);
  if (!names.every((name) => name in SERVICE_METRICS)) return undefined;
  const specs = Object.values(METRICS).filter((spec) => names.includes(spec.name));
  const have = new Set([
    ...TARGET_LABELS,
    ...specs.flatMap((spec) => [...Object.keys(spec.labels), ...(spec.perTenant ? ['tenant'] : [])]),
  ]);
  const grouped = [...expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)].flatMap((m) =>
    (m[1] ?? '').split(',').map((label) => label.trim()),
  );
  return grouped.filter((label) => label !== '' && !have.has(label));
}

interface Dashboard {
  templating: { list: { name: string; type: string; query: string }[] };
  panels: { type: string; title: string; datasource?: { uid: string }; targets?: { expr: string }[] }[];
}

const dashboard = JSON.parse(readFileSync(dashboardFile, 'utf8')) as Dashboard;
const dashboardExprs = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));

describe('alerting rules (deploy/prometheus)', () => {
  it('pass `promtool check rules`', () => {
    assert.match(promtool('check', 'rules', 'alerts.yml'), /SUCCESS: \d+ rules found/);
  });

  it('pass their unit tests with `promtool test rules`', () => {
    assert.match(promtool('test', 'rules', 'alerts.test.yml'), /SUCCESS/);
  });

  it('fail `promtool test rules` when a rule is broken (the tests can fail)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wss-alerts-'));
    try {
      const broken = readFileSync(path.join(prometheusDir, 'alerts.yml'), 'utf8').replace(
        'wss_consumer_stream_lag) > 1000',
        'wss_consumer_stream_lag) > 100000',
      );
      assert.notEqual(broken, readFileSync(path.join(prometheusDir, 'alerts.yml'), 'utf8'));
      writeFileSync(path.join(dir, 'alerts.yml'), broken);
      writeFileSync(path.join(dir, 'alerts.test.yml'), readFileSync(path.join(prometheusDir, 'alerts.test.yml')));
      const result = spawnSync('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: dir, encoding: 'utf8' });
      assert.equal(result.error, undefined);
      assert.notEqual(result.status, 0);
      assert.match(result.stdout + result.stderr, /alertname: WssStreamLagGrowing/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ship an example Prometheus configuration that loads them (`promtool check config`)', () => {
    assert.match(promtool('check', 'config', 'prometheus.example.yml'), /SUCCESS/);
  });

  it('cover the alerts the issue asks for, each with a severity, a summary, a description and a runbook hint', () => {
    const rules = alertRules();
    const names = rules.map((rule) => rule.alert);
    for (const name of [
      'WssRoleDown',
      'WssRoleNotReady',
      'WssStreamLagGrowing',
      'WssDeadLettersGrowing',
      'WssDeliveryFailureRatioHigh',
      'WssEndpointDisabled',
      'WssWorkerTaskSlotsExhausted',
    ]) {
      assert.ok(names.includes(name), name);
    }
    for (const rule of rules) {
      assert.match(rule.labels?.severity ?? '', /^(critical|warning|info)$/, rule.alert);
      for (const key of ['summary', 'description', 'runbook'] as const) {
        assert.ok((rule.annotations?.[key] ?? '').length > 10, `${rule.alert} ${key}`);
      }
    }
  });

  it('have unit tests where each alert fires and where it stays silent', async () => {
    const { parse } = await import('yaml');
    const tests = parse(readFileSync(path.join(prometheusDir, 'alerts.test.yml'), 'utf8')) as {
      tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
    };
    const cases = tests.tests.flatMap((test) => test.alert_rule_test ?? []);
    for (const { alert } of alertRules()) {
      const mine = cases.filter((c) => c.alertname === alert);
      assert.ok(
        mine.some((c) => (c.exp_alerts ?? []).length > 0),
        `${alert}: no test case where it fires`,
      );
      assert.ok(
        mine.some((c) => (c.exp_alerts ?? []).length === 0),
        `${alert}: no test case where it stays silent`,
      );
    }
  });

  it("aggregate the service's metrics only by labels they have", () => {
    for (const rule of alertRules()) {
      assert.deepEqual(missingGroupingLabels(rule.expr) ?? [], [], `${rule.alert}: ${rule.expr}`);
    }
  });

  it('query only metrics the service, the Temporal SDK, Prometheus and the blackbox exporter export', () => {
    for (const rule of alertRules()) {
      for (const name of metricNames(rule.expr)) assert.ok(knownMetric(name), `${rule.alert}: unknown metric ${name}`);
    }
  });
});

describe('Grafana dashboard (deploy/grafana/wss-dashboard.json)', () => {
  it('chooses its Prometheus data source through a variable used by every panel', () => {
    const variable = dashboard.templating.list.find((v) => v.type === 'datasource');
    assert.equal(variable?.query, 'prometheus');
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
      assert.equal(panel.datasource?.uid, `\${${variable?.name ?? ''}}`, panel.title);
    }
  });

  it('queries only known metrics, and every metric of the service at least once', () => {
    const used = new Set<string>();
    for (const expr of dashboardExprs) {
      for (const name of metricNames(expr)) {
        const metric = knownMetric(name);
        assert.ok(metric, `unknown metric ${name} in ${expr}`);
        used.add(metric);
      }
    }
    for (const metric of Object.keys(SERVICE_METRICS)) assert.ok(used.has(metric), `${metric} is on no panel`);
    assert.ok(used.has('temporal_worker_task_slots_available'));
  });

  it("aggregates the service's metrics only by labels they have", () => {
    for (const expr of dashboardExprs) assert.deepEqual(missingGroupingLabels(expr) ?? [], [], expr);
  });

  it('queries histograms through their buckets and counters through rate or increase', () => {
    for (const expr of dashboardExprs) {
      for (const name of metricNames(expr)) {
        const metric = knownMetric(name) ?? '';
        if (KNOWN[metric] === 'histogram') assert.equal(name, `${metric}_bucket`, expr);
        if (KNOWN[metric] === 'counter') assert.match(expr, new RegExp(`(rate|increase)\\(${metric}[{[]`), expr);
      }
    }
  });

  it('holds PromQL that Prometheus parses (promtool check rules over the panel queries)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wss-dashboard-'));
    try {
      const rules = dashboardExprs.map((expr, i) => ({
        record: `wss_dashboard_query_${i}`,
        expr: expr.replaceAll('$__rate_interval', '5m').replaceAll('$__range', '1h'),
      }));
      writeFileSync(path.join(dir, 'queries.yml'), toYaml({ groups: [{ name: 'dashboard', rules }] }));
      const result = spawnSync('promtool', ['check', 'rules', 'queries.yml'], { cwd: dir, encoding: 'utf8' });
      assert.equal(result.error, undefined);
      assert.equal(result.status, 0, result.stdout + result.stderr);
      assert.match(result.stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
