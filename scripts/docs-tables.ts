// The README's generated tables: the configuration (from the config schema), the error codes (from the error
// registry), the alerts (from deploy/prometheus/alerts.yml), the metrics (from src/infra/metrics.ts) and the Redis
// key layout (from src/store/redis-keys.ts).
// `npm run docs` rewrites them in README.md; `npm run config:docs` and `npm run errors:docs` print them;
// test/unit/readme-tables.test.ts fails when the README differs from what this module generates.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { cliConfigSchema, configSchema } from '../src/infra/config';
import type { ErrorSurface } from '../src/domain/errors';
import { ERROR_CODES, apiErrorCodes, errorCodesOn } from '../src/domain/errors';
import { metricTable } from '../src/infra/metrics';
import { CONFIG_ROLES } from '../src/infra/config-roles';
import { keyLayoutTable } from '../src/store/redis-keys';
import { readmeFaultTable, readmeSoakTable } from '../chaos/report';

function describeDefault(schema: { _zod?: { def?: { defaultValue?: unknown } } }): string {
  const value = schema._zod?.def?.defaultValue;
  if (value === undefined) return '';
  const text = Array.isArray(value) ? value.join(',') : String(value);
  return text === '' ? '(empty)' : `\`${text}\``;
}

/** Every environment variable with the roles that read it, its default and its meaning. */
export function configTable(): string {
  const rows = Object.entries({
    ...configSchema.shape,
    WSS_API_URL: cliConfigSchema.shape.WSS_API_URL,
    WSS_TOKEN: cliConfigSchema.shape.WSS_TOKEN,
  }).map(
    ([name, schema]) =>
      `| \`${name}\` | ${CONFIG_ROLES[name as keyof typeof CONFIG_ROLES].join(', ')} | ${name === 'WSS_CONSUMER_NAME' ? 'host name' : describeDefault(schema as never)} | ${(schema as { description?: string }).description ?? ''} |`,
  );
  return ['| Variable | Roles | Default | Meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

/** The `error.code` values of the management API. */
export function apiErrorTable(): string {
  const rows = apiErrorCodes().map(
    ({ code, httpStatus, description }) => `| \`${code}\` | ${httpStatus} | ${description} |`,
  );
  return ['| `code` | HTTP | Meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

/** The failure types a delivery attempt ends with (Temporal's `ApplicationFailure.type`). */
export function deliveryFailureTable(): string {
  const rows = errorCodesOn('activity').map((code) => {
    const spec = ERROR_CODES[code];
    return `| \`${code}\` | ${spec.retryable ? 'retried' : 'final'} | ${spec.description} |`;
  });
  return ['| Failure type | Retried? | Meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

/** The `wss_reason_code` values of the event stream's dead letters. */
export function deadLetterReasonTable(): string {
  const rows = errorCodesOn('dead_letter').map((code) => `| \`${code}\` | ${ERROR_CODES[code].description} |`);
  return ['| `wss_reason_code` | Cause |', '| --- | --- |', ...rows].join('\n');
}

/** Every error code of the registry, for `npm run errors:docs`. */
export function errorTables(): string {
  const surfaces: [ErrorSurface, string, () => string][] = [
    ['api', 'Management API', apiErrorTable],
    ['activity', 'Delivery attempts', deliveryFailureTable],
    ['dead_letter', 'Stream dead letters', deadLetterReasonTable],
  ];
  return surfaces.map(([, title, table]) => `### ${title}\n\n${table()}`).join('\n\n');
}

/** One alerting rule of deploy/prometheus/alerts.yml, as far as the README needs it. */
export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: { readonly severity?: string };
  readonly annotations?: { readonly summary?: string; readonly description?: string; readonly runbook?: string };
}

/** The alerting rules shipped in deploy/prometheus/alerts.yml, in file order. */
export function alertRules(file = path.join(__dirname, '..', 'deploy', 'prometheus', 'alerts.yml')): AlertRule[] {
  const doc = parseYaml(readFileSync(file, 'utf8')) as { groups: { rules: AlertRule[] }[] };
  return doc.groups.flatMap((group) => group.rules.filter((rule) => typeof rule.alert === 'string'));
}

/** The shipped alerts: name, severity, how long the condition must hold, what it means and what to do. */
export function alertTable(): string {
  const cell = (text: string | undefined) => (text ?? '').replaceAll('|', '\\|');
  const rows = alertRules().map(
    (rule) =>
      `| \`${rule.alert}\` | ${cell(rule.labels?.severity)} | ${rule.for ?? '0s'} | ${cell(rule.annotations?.description)} | ${cell(rule.annotations?.runbook)} |`,
  );
  return ['| Alert | Severity | For | Fires when | What to do |', '| --- | --- | --- | --- | --- |', ...rows].join(
    '\n',
  );
}

/** The chaos run whose figures the README shows (`npm run chaos` writes it; `npm run docs` copies it in). */
export const CHAOS_RESULTS = path.join(__dirname, '..', 'chaos', 'results', 'latest-full.json');
/** The soak whose figures the README shows (`npm run soak -- --minutes N`). */
export const SOAK_RESULTS = path.join(__dirname, '..', 'chaos', 'results', 'latest-soak.json');

function reliabilityTable(): string {
  return readmeFaultTable(JSON.parse(readFileSync(CHAOS_RESULTS, 'utf8')));
}

function soakTable(): string {
  return readmeSoakTable(JSON.parse(readFileSync(SOAK_RESULTS, 'utf8')));
}

/** README sections kept between `<!-- BEGIN generated:<name> ... -->` and `<!-- END generated:<name> -->`. */
export const README_SECTIONS: Readonly<Record<string, () => string>> = {
  config: configTable,
  'api-errors': apiErrorTable,
  'delivery-failures': deliveryFailureTable,
  'dead-letter-reasons': deadLetterReasonTable,
  alerts: alertTable,
  metrics: metricTable,
  'redis-keys': keyLayoutTable,
  'chaos-faults': reliabilityTable,
  'chaos-soak': soakTable,
};

/**
 * The README with every generated section replaced by what the code generates now.
 * @throws Error if a section's markers are missing, so a deleted marker cannot silently stop the check.
 */
export function renderReadme(readme: string): string {
  let out = readme;
  for (const [name, generate] of Object.entries(README_SECTIONS)) {
    const pattern = new RegExp(`(<!-- BEGIN generated:${name} [^\\n]*-->)[\\s\\S]*?(<!-- END generated:${name} -->)`);
    if (!pattern.test(out)) throw new Error(`README.md has no generated:${name} section`);
    out = out.replace(pattern, (_match, begin: string, end: string) => `${begin}\n${generate()}\n${end}`);
  }
  return out;
}
