import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadCliConfig } from '../infra/config';

/**
 * `wss`: the command-line client of the management API for the common tasks. Human-readable output by default,
 * `--json` for scripts. Exit codes: 0 ok, 1 API or network error, 2 usage error.
 */

const USAGE = `Usage: wss <command> [options]

Tenants
  wss tenants create <tenantId> [--name <name>]
  wss tenants list
  wss tenants delete <tenantId>
  wss keys create <tenantId> [--name <name>]          create a tenant API key (shown once)
Endpoints
  wss endpoints add <tenantId> --url <url> --events <a.b,c.*> [--secret <s>] [--scheme wss|standard-webhooks|both]
                    [--filter <json>] [--transform <jsonata>] [--description <text>]
  wss endpoints list <tenantId> [--limit <n>] [--cursor <c>]
  wss endpoints get|delete|enable|disable <tenantId> <endpointId>
  wss endpoints rotate <tenantId> <endpointId>        rotate the signing secret (prints the new one)
  wss endpoints test <tenantId> <endpointId> --type <t> --data <json>   dry run: match, body, headers; sends nothing
Events
  wss events publish <tenantId> --type <t> --data <json> [--id <eventId>]
Deliveries
  wss deliveries get <tenantId> <eventId>
  wss deliveries cancel|retry <tenantId> <eventId>
  wss deliveries failed <tenantId> [--endpoint <id>]
  wss deliveries replay <tenantId> <endpointId> --since <iso> [--until <iso>]

Options
  --api <url>     API base URL (env WSS_API_URL, default http://127.0.0.1:8080)
  --token <t>     bearer token (env WSS_TOKEN, else WSS_ADMIN_TOKEN)
  --json          print the raw JSON response
  --data @file    read a JSON argument from a file`;

class UsageError extends Error {}

/** parseArgs rejects unknown options and options missing their value with `ERR_PARSE_ARGS_*`: usage errors too. */
function isArgumentError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}

interface Output {
  out(text: string): void;
  err(text: string): void;
}

const stdio: Output = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
};

/** Runs the CLI and sets the process exit code. */
export function runCli(argv: string[], io: Output = stdio): void {
  main(argv, io).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      io.err(`wss: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = err instanceof UsageError || isArgumentError(err) ? 2 : 1;
    },
  );
}

async function main(argv: string[], io: Output): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      api: { type: 'string' },
      token: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      name: { type: 'string' },
      url: { type: 'string' },
      events: { type: 'string' },
      secret: { type: 'string' },
      scheme: { type: 'string' },
      filter: { type: 'string' },
      transform: { type: 'string' },
      description: { type: 'string' },
      limit: { type: 'string' },
      cursor: { type: 'string' },
      type: { type: 'string' },
      data: { type: 'string' },
      id: { type: 'string' },
      endpoint: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
    },
  });
  const [group, action, ...rest] = positionals;
  if (values.help || !group) {
    io.out(USAGE);
    return values.help ? 0 : 2;
  }
  const env = loadCliConfig();
  const api = new ApiClient(values.api ?? env.WSS_API_URL, values.token ?? env.WSS_TOKEN ?? env.WSS_ADMIN_TOKEN);
  const need = (index: number, what: string): string => {
    const value = rest[index];
    if (!value) throw new UsageError(`missing <${what}>\n\n${USAGE}`);
    return encodeURIComponent(value);
  };
  const required = (value: string | undefined, flag: string): string => {
    if (value === undefined) throw new UsageError(`missing --${flag}`);
    return value;
  };
  const show = (res: ApiResult, human: (body: any) => string): number => {
    if (!res.ok) {
      const error = res.body?.error;
      io.err(
        values.json
          ? JSON.stringify(res.body)
          : `error ${res.status}${error ? ` ${error.code}: ${error.message}` : ''}`,
      );
      return 1;
    }
    io.out(values.json ? JSON.stringify(res.body, null, 2) : human(res.body));
    return 0;
  };

  switch (`${group} ${action ?? ''}`.trim()) {
    case 'tenants create':
      return show(
        await api.call('POST', '/v1/tenants', {
          id: rest[0] ?? need(0, 'tenantId'),
          ...(values.name ? { name: values.name } : {}),
        }),
        (t) => `created tenant ${t.id}`,
      );
    case 'tenants list':
      return show(await api.call('GET', '/v1/tenants'), (b) => table(b.items, ['id', 'name', 'createdAt']));
    case 'tenants delete':
      return show(
        await api.call('DELETE', `/v1/tenants/${need(0, 'tenantId')}`),
        (b) => `deleted tenant ${b.deleted} (${b.endpoints} endpoints)`,
      );
    case 'keys create':
      return show(
        await api.call('POST', `/v1/tenants/${need(0, 'tenantId')}/api-keys`, values.name ? { name: values.name } : {}),
        (k) => `created key ${k.id}\nkey: ${k.key}\n(shown once: store it now)`,
      );
    case 'endpoints add': {
      const body: Record<string, unknown> = {
        url: required(values.url, 'url'),
        eventTypes: required(values.events, 'events')
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      };
      if (values.secret) body['secret'] = values.secret;
      if (values.scheme) body['signatureScheme'] = values.scheme;
      if (values.description) body['description'] = values.description;
      if (values.filter) body['filter'] = parseJsonArg(values.filter, 'filter');
      if (values.transform) body['transform'] = values.transform;
      return show(
        await api.call('POST', `/v1/tenants/${need(0, 'tenantId')}/endpoints`, body),
        (e) => `created endpoint ${e.id} → ${e.url}\nsecret: ${e.secret}\n(shown once: store it now)`,
      );
    }
    case 'endpoints list': {
      const query = new URLSearchParams();
      if (values.limit) query.set('limit', values.limit);
      if (values.cursor) query.set('cursor', values.cursor);
      const qs = query.size > 0 ? `?${query}` : '';
      return show(
        await api.call('GET', `/v1/tenants/${need(0, 'tenantId')}/endpoints${qs}`),
        (b) =>
          table(
            b.items.map((e: any) => ({ ...e, eventTypes: e.eventTypes.join(','), enabled: String(e.enabled) })),
            ['id', 'url', 'eventTypes', 'enabled'],
          ) + (b.nextCursor ? `\nmore: --cursor ${b.nextCursor}` : ''),
      );
    }
    case 'endpoints get':
      return show(await api.call('GET', `/v1/tenants/${need(0, 'tenantId')}/endpoints/${need(1, 'endpointId')}`), (e) =>
        JSON.stringify(e, null, 2),
      );
    case 'endpoints delete':
      return show(
        await api.call('DELETE', `/v1/tenants/${need(0, 'tenantId')}/endpoints/${need(1, 'endpointId')}`),
        () => 'deleted',
      );
    case 'endpoints enable':
    case 'endpoints disable':
      return show(
        await api.call('POST', `/v1/tenants/${need(0, 'tenantId')}/endpoints/${need(1, 'endpointId')}/${action}`, {}),
        (e) => `${e.id} ${e.enabled ? 'enabled' : 'disabled'}`,
      );
    case 'endpoints rotate':
      return show(
        await api.call(
          'POST',
          `/v1/tenants/${need(0, 'tenantId')}/endpoints/${need(1, 'endpointId')}/secret/rotate`,
          {},
        ),
        (r) => `new secret: ${r.secret}\nprevious secret valid until ${r.previousSecretValidUntil}`,
      );
    case 'endpoints test':
      return show(
        await api.call(
          'POST',
          `/v1/tenants/${need(0, 'tenantId')}/endpoints/${need(1, 'endpointId')}/test`,
          eventBody({ type: required(values.type, 'type') }, readJsonArg(required(values.data, 'data'), 'data')),
        ),
        (r) =>
          r.matches
            ? `matches: yes\nheaders:\n${Object.entries(r.headers)
                .map(([k, v]) => `  ${k}: ${v}`)
                .join('\n')}\nbody:\n${r.body}`
            : `matches: no (${r.reason})`,
      );
    case 'events publish':
      return show(
        await api.call(
          'POST',
          `/v1/tenants/${need(0, 'tenantId')}/events`,
          eventBody(
            { type: required(values.type, 'type'), ...(values.id ? { id: values.id } : {}) },
            readJsonArg(required(values.data, 'data'), 'data'),
          ),
        ),
        (r) => `published ${r.id} (stream entry ${r.streamEntryId})`,
      );
    case 'deliveries get':
      return show(await api.call('GET', `/v1/tenants/${need(0, 'tenantId')}/deliveries/${need(1, 'eventId')}`), (d) =>
        describeDelivery(d),
      );
    case 'deliveries cancel':
    case 'deliveries retry':
      return show(
        await api.call('POST', `/v1/tenants/${need(0, 'tenantId')}/deliveries/${need(1, 'eventId')}/${action}`, {}),
        (r) => JSON.stringify(r),
      );
    case 'deliveries failed': {
      const qs = values.endpoint ? `?endpointId=${encodeURIComponent(values.endpoint)}` : '';
      return show(await api.call('GET', `/v1/tenants/${need(0, 'tenantId')}/dead-letters${qs}`), (b) =>
        table(b.items, ['eventId', 'endpointId', 'lastStatusCode', 'attempts', 'lastError']),
      );
    }
    case 'deliveries replay':
      return show(
        await api.call('POST', `/v1/tenants/${need(0, 'tenantId')}/endpoints/${need(1, 'endpointId')}/replay`, {
          since: required(values.since, 'since'),
          ...(values.until ? { until: values.until } : {}),
        }),
        (r) => `replayed ${r.replayed} failed deliveries`,
      );
    default:
      throw new UsageError(`unknown command "${group} ${action ?? ''}"\n\n${USAGE}`);
  }
}

interface ApiResult {
  ok: boolean;
  status: number;
  body: any;
}

class ApiClient {
  constructor(
    private readonly base: string,
    private readonly token: string | undefined,
  ) {}

  /** `body` is serialised as JSON, unless it is a {@link RawJson}, which is sent as it is. */
  async call(method: string, path: string, body?: unknown): Promise<ApiResult> {
    if (!this.token) throw new UsageError('no token: pass --token or set WSS_TOKEN / WSS_ADMIN_TOKEN');
    let res: Response;
    try {
      res = await fetch(new URL(path, this.base), {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: body instanceof RawJson ? body.text : JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      throw new Error(`cannot reach the API at ${this.base}: ${(err as Error).message}`);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      parsed = { error: { code: 'bad_response', message: text.slice(0, 200) } };
    }
    return { ok: res.ok, status: res.status, body: parsed };
  }
}

/** JSON text that is already serialised: the request body as it goes on the wire. */
class RawJson {
  constructor(readonly text: string) {}
}

/**
 * An event body whose `data` is the user's JSON text spliced in as written. Parsing it and serialising it again
 * would round integers above 2^53 and rewrite `1.0`, `1E5`, `-0` and escapes; the API keeps these bytes.
 */
function eventBody(fields: Record<string, string>, dataText: string): RawJson {
  const head = Object.entries(fields)
    .map(([name, value]) => `${JSON.stringify(name)}:${JSON.stringify(value)},`)
    .join('');
  return new RawJson(`{${head}"data":${dataText.trim()}}`);
}

/** The text of a JSON argument (`--data '{...}'` or `--data @file`), checked to be strict JSON but not rewritten. */
function readJsonArg(value: string, flag: string): string {
  const text = value.startsWith('@') ? readFileSync(value.slice(1), 'utf8') : value;
  try {
    JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--${flag} is not valid JSON: ${(err as Error).message}`);
  }
  return text;
}

function parseJsonArg(value: string, flag: string): unknown {
  return JSON.parse(readJsonArg(value, flag));
}

function table(rows: Record<string, unknown>[], columns: string[]): string {
  if (rows.length === 0) return '(none)';
  const cells = rows.map((row) => columns.map((c) => (row[c] === undefined || row[c] === null ? '' : String(row[c]))));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n');
}

function describeDelivery(d: any): string {
  const lines = [
    `event ${d.eventId} (${d.eventType ?? '?'}) — ${d.status}`,
    `workflow ${d.workflowId}${d.webUiUrl ? `  ${d.webUiUrl}` : ''}`,
  ];
  for (const e of d.endpoints ?? []) {
    lines.push(`  endpoint ${e.endpointId}: ${e.status}, ${e.attempts?.length ?? 0} attempt(s)`);
    for (const a of e.attempts ?? []) {
      lines.push(`    #${a.attempt} ${a.at ?? ''} ${a.statusCode ?? ''} ${a.error ?? 'ok'}`.trimEnd());
    }
  }
  return lines.join('\n');
}

if (require.main === module) runCli(process.argv.slice(2));
