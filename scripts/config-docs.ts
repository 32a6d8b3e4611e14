// Prints the configuration table for the README from the config schema itself: `npm run config:docs`.
import { cliConfigSchema, configSchema } from '../src/infra/config';

function describeDefault(schema: { _zod?: { def?: { defaultValue?: unknown } } }): string {
  const value = schema._zod?.def?.defaultValue;
  if (value === undefined) return '';
  const text = Array.isArray(value) ? value.join(',') : String(value);
  return text === '' ? '(empty)' : `\`${text}\``;
}

const rows = Object.entries({
  ...configSchema.shape,
  WSS_API_URL: cliConfigSchema.shape.WSS_API_URL,
  WSS_TOKEN: cliConfigSchema.shape.WSS_TOKEN,
}).map(
  ([name, schema]) =>
    `| \`${name}\` | ${name === 'WSS_CONSUMER_NAME' ? 'host name' : describeDefault(schema as never)} | ${(schema as { description?: string }).description ?? ''} |`,
);
console.log(['| Variable | Default | Meaning |', '| --- | --- | --- |', ...rows].join('\n'));
