// The README's generated tables: the configuration (from the config schema), the error codes (from the error
// registry) and the metrics (from src/infra/metrics.ts). `npm run docs` rewrites them in README.md;
// `npm run config:docs` and `npm run errors:docs` print them; test/unit/readme-tables.test.ts fails when the README
// differs from what this module generates.
import { cliConfigSchema, configSchema } from '../src/infra/config';
import type { ErrorSurface } from '../src/domain/errors';
import { ERROR_CODES, apiErrorCodes, errorCodesOn } from '../src/domain/errors';
import { metricTable } from '../src/infra/metrics';

function describeDefault(schema: { _zod?: { def?: { defaultValue?: unknown } } }): string {
  const value = schema._zod?.def?.defaultValue;
  if (value === undefined) return '';
  const text = Array.isArray(value) ? value.join(',') : String(value);
  return text === '' ? '(empty)' : `\`${text}\``;
}

/** Every environment variable with its default and meaning. */
export function configTable(): string {
  const rows = Object.entries({
    ...configSchema.shape,
    WSS_API_URL: cliConfigSchema.shape.WSS_API_URL,
    WSS_TOKEN: cliConfigSchema.shape.WSS_TOKEN,
  }).map(
    ([name, schema]) =>
      `| \`${name}\` | ${name === 'WSS_CONSUMER_NAME' ? 'host name' : describeDefault(schema as never)} | ${(schema as { description?: string }).description ?? ''} |`,
  );
  return ['| Variable | Default | Meaning |', '| --- | --- | --- |', ...rows].join('\n');
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

/** README sections kept between `<!-- BEGIN generated:<name> ... -->` and `<!-- END generated:<name> -->`. */
export const README_SECTIONS: Readonly<Record<string, () => string>> = {
  config: configTable,
  'api-errors': apiErrorTable,
  'delivery-failures': deliveryFailureTable,
  'dead-letter-reasons': deadLetterReasonTable,
  metrics: metricTable,
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
