import { readFileSync } from 'node:fs';
import { Command, CommanderError, Help } from 'commander';
import { ConfigError, loadCliConfig } from '../infra/config';

/**
 * `wss`: the command-line client of the management API for the common tasks. Human-readable output by default,
 * `--json` for scripts. Exit codes: 0 ok, 1 API or network error, 2 usage error.
 */

export interface Output {
  out(text: string): void;
  err(text: string): void;
}

const stdio: Output = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
};

class UsageError extends Error {}
type Env = Record<string, string | undefined>;

/**
 * JSON the user wrote (`--data`, `--filter`), sent as that text: parsing it only validates it, so integers beyond
 * 2^53, `1.10` and `1e400` reach the API byte for byte instead of being rounded by a parse and re-serialise.
 */
class RawJson {
  constructor(readonly text: string) {}
}

/** Runs the CLI and sets the process exit code. */
export function runCli(argv: string[], io: Output = stdio): void {
  void run(argv, io).then((code) => {
    process.exitCode = code;
  });
}

/** Runs one command line; resolves to its exit code. `env` defaults to the process environment. */
export async function run(argv: string[], io: Output = stdio, env?: Env): Promise<number> {
  let code = 0;
  const program = buildProgram(io, env, (c) => (code = c));
  if (argv.length === 0) {
    io.out(program.helpInformation().trimEnd());
    return 2;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError && err.exitCode === 0) return 0; // --help
    io.err(`wss: ${err instanceof Error ? err.message : String(err)}`);
    return err instanceof UsageError || err instanceof ConfigError ? 2 : 1;
  }
}

interface Options {
  api?: string;
  token?: string;
  json?: boolean;
  [flag: string]: string | boolean | undefined;
}

type Body = Record<string, unknown>;
/** An answer for a human; `base` is the API base URL the request went to. */
type Human = (body: any, base: string) => string;

function buildProgram(io: Output, env: Env | undefined, done: (code: number) => void) {
  const program = new Command('wss')
    .description('Client of the Webhook Sender Service management API.')
    .option('--api <url>', 'API base URL (env WSS_API_URL, default http://127.0.0.1:8080)')
    .option('--token <token>', 'bearer token (env WSS_TOKEN, else WSS_ADMIN_TOKEN)')
    .option('--json', 'print the raw JSON response');
  const sub = (group: Command, usage: string, description: string) => group.command(usage).description(description);
  /**
   * The action that calls `route` ("METHOD /path", each `{}` taking the next argument, percent-encoded) with the
   * parameters `params` builds from the options (the query of a GET, the body of a POST), and prints the answer,
   * for a human with `human`.
   */
  const call =
    (route: string, human: Human, params?: (o: Options, args: string[]) => Body) =>
    async (...actionArgs: unknown[]): Promise<void> => {
      const self = actionArgs.at(-1) as Command;
      const [o, args] = [self.optsWithGlobals<Options>(), self.processedArgs as string[]];
      const empty = self.registeredArguments.find((_, k) => !args[k]);
      if (empty) throw new UsageError(`missing <${empty.name()}>`);
      const [method = '', template = ''] = route.split(' ');
      let i = 0;
      const path = template.replace(/\{\}/g, () => encodeURIComponent(args[i++] ?? ''));
      done(show(io, o, await request(o, env, method, path, params?.(o, args) ?? {}), human));
    };

  const tenants = program.command('tenants').description('create, list and delete tenants');
  sub(tenants, 'create <tenantId>', 'create a tenant')
    .option('--name <name>', 'display name')
    .action(
      call(
        'POST /v1/tenants',
        (b) => `created tenant ${b.id}`,
        (o, [id]) => ({ id, name: o.name }),
      ),
    );
  sub(tenants, 'list', 'list tenants').action(
    call('GET /v1/tenants', (b) => table(b.items, ['id', 'name', 'createdAt'])),
  );
  sub(tenants, 'delete <tenantId>', 'delete a tenant and its endpoints').action(
    call('DELETE /v1/tenants/{}', (b) => `deleted tenant ${b.deleted} (${b.endpoints} endpoints)`),
  );

  const keys = program.command('keys').description('tenant API keys');
  sub(keys, 'create <tenantId>', 'create a tenant API key (shown once)')
    .option('--name <name>', 'label')
    .action(call('POST /v1/tenants/{}/api-keys', (k) => `created key ${k.id}\nkey: ${k.key}\n${ONCE}`, pick('name')));

  const endpoints = program.command('endpoints').description("a tenant's webhook endpoints");
  sub(endpoints, 'add <tenantId>', 'add an endpoint (prints its signing secret once)')
    .requiredOption('--url <url>', 'where deliveries are POSTed')
    .requiredOption('--events <types>', 'comma-separated event types, with wildcards: order.*,invoice.paid')
    .option('--secret <secret>', 'signing secret (default: generated)')
    .option('--scheme <scheme>', 'signature scheme: wss, standard-webhooks or both')
    .option(
      '--signatures <versions>',
      'comma-separated signatures to send: v1 (HMAC, default), v1a (ed25519 with the tenant key), or v1,v1a',
    )
    .option('--filter <json>', 'content filter, a JSON document (or @file)')
    .option('--transform <jsonata>', 'JSONata expression that shapes the delivered body')
    .option('--description <text>', 'free text')
    .option('--send-traceparent', "send each attempt's W3C traceparent header (when the service traces)")
    .option('--auth <json>', AUTH_HELP)
    .option('--client-cert <file>', 'mTLS: client certificate (PEM file); needs --client-key')
    .option('--client-key <file>', 'mTLS: private key of --client-cert (PEM file)')
    .option('--order-by <key>', 'ordered delivery per key: a path like $.data.order.id, or orderingKey (stream field)')
    .option('--on-failure <action>', 'with --order-by, after a failed head: continue (default) or pause the key')
    // --- Flow control (issue 17) ---
    .option('--rate-limit <perSecond>', 'deliveries per second, across every worker')
    .option('--burst <n>', 'requests the rate limit lets go at once after a quiet spell (default 1)')
    .option('--max-in-flight <n>', 'requests in flight at once, across every worker')
    .option('--no-adaptive-backoff', 'no AIMD on 429/503/timeouts and no endpoint-wide Retry-After pause')
    .action(
      call(
        'POST /v1/tenants/{}/endpoints',
        (e) => `created endpoint ${e.id} → ${e.url}\nsecret: ${e.secret}\n${ONCE}`,
        (o) => ({
          url: o.url,
          eventTypes: String(o.events)
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
          secret: o.secret,
          signatureScheme: o.scheme,
          signatureVersions:
            o.signatures === undefined
              ? undefined
              : String(o.signatures)
                  .split(',')
                  .map((s) => s.trim())
                  .filter(Boolean),
          description: o.description,
          filter: o.filter ? jsonArg(o.filter, 'filter') : undefined,
          transform: o.transform,
          sendTraceparent: o.sendTraceparent === true ? true : undefined,
          auth: authArg(o),
          ordering: o.orderBy ? { key: o.orderBy, onFailure: o.onFailure } : undefined,
          ...flowControlBody(o),
        }),
      ),
    );
  sub(endpoints, 'auth <tenantId> <endpointId>', "set or remove an endpoint's authentication (secrets never shown)")
    .option('--auth <json>', AUTH_HELP)
    .option('--client-cert <file>', 'mTLS: client certificate (PEM file); needs --client-key')
    .option('--client-key <file>', 'mTLS: private key of --client-cert (PEM file)')
    .option('--remove', 'remove the authentication')
    .action(
      call(
        'PATCH /v1/tenants/{}/endpoints/{}',
        (e) => `${e.id} auth: ${e.auth === undefined ? 'none' : JSON.stringify(e.auth)}`,
        (o) => {
          const auth = o.remove === true ? null : authArg(o);
          if (auth === undefined) throw new UsageError('give --auth, --client-cert with --client-key, or --remove');
          if (auth === null && (o.auth !== undefined || o.clientCert !== undefined)) {
            throw new UsageError('--remove takes no other auth option');
          }
          return { auth };
        },
      ),
    );
  // --- Flow control (issue 17): change limits live; `none` removes one ---
  sub(endpoints, 'flow-control <tenantId> <endpointId>', "change an endpoint's rate limit, in-flight cap or AIMD")
    .option('--rate-limit <perSecond|none>', 'deliveries per second, across every worker')
    .option('--burst <n|none>', 'requests the rate limit lets go at once after a quiet spell')
    .option('--max-in-flight <n|none>', 'requests in flight at once, across every worker')
    .option('--adaptive-backoff <on|off>', 'AIMD on 429/503/timeouts and the endpoint-wide Retry-After pause')
    .action(
      call(
        'PATCH /v1/tenants/{}/endpoints/{}',
        (e) =>
          `${e.id}: rateLimit ${e.rateLimit ?? 'none'}, burst ${e.rateLimitBurst ?? 1}, maxInFlight ${e.maxInFlight ?? 'none'}, adaptiveBackoff ${e.adaptiveBackoff === false ? 'off' : 'on'}`,
        (o) => flowControlBody(o, true),
      ),
    );
  sub(endpoints, 'list <tenantId>', "list a tenant's endpoints")
    .option('--limit <n>', 'page size')
    .option('--cursor <cursor>', 'continue from a previous page')
    .action(call('GET /v1/tenants/{}/endpoints', listEndpoints, pick('limit', 'cursor')));
  sub(endpoints, 'get <tenantId> <endpointId>', 'show an endpoint').action(
    call('GET /v1/tenants/{}/endpoints/{}', (b) => JSON.stringify(b, null, 2)),
  );
  sub(endpoints, 'delete <tenantId> <endpointId>', 'delete an endpoint').action(
    call('DELETE /v1/tenants/{}/endpoints/{}', () => 'deleted'),
  );
  for (const state of ['enable', 'disable']) {
    sub(endpoints, `${state} <tenantId> <endpointId>`, `${state} deliveries to an endpoint`).action(
      call(`POST /v1/tenants/{}/endpoints/{}/${state}`, (b) => `${b.id} ${b.enabled ? 'enabled' : 'disabled'}`),
    );
  }
  sub(endpoints, 'rotate <tenantId> <endpointId>', 'rotate the signing secret (prints the new one)').action(
    call(
      'POST /v1/tenants/{}/endpoints/{}/secret/rotate',
      (r) => `new secret: ${r.secret}\nprevious secret valid until ${r.previousSecretValidUntil}`,
    ),
  );
  eventOptions(
    sub(endpoints, 'test <tenantId> <endpointId>', 'dry run: match, body and headers; sends nothing'),
  ).action(
    call('POST /v1/tenants/{}/endpoints/{}/test', dryRun, (o) => ({
      type: o.type,
      data: jsonArg(o.data, 'data'),
      orderingKey: o.orderingKey,
    })),
  );

  sub(endpoints, 'send-test <tenantId> <endpointId>', 'send a real test event to this endpoint only')
    .requiredOption('--type <type>', 'event type, e.g. order.created')
    .requiredOption('--data <json>', 'event data as JSON, or @file to read it from a file (sent as written)')
    .action(
      call(
        'POST /v1/tenants/{}/endpoints/{}/send-test',
        (r) => `sent ${r.id} to ${r.endpointId}; follow it with: wss deliveries get <tenantId> ${r.id}`,
        (o) => ({ type: o.type, data: jsonArg(o.data, 'data') }),
      ),
    );

  const signingKeys = program
    .command('signing-keys')
    .description("a tenant's ed25519 keys for v1a signatures (private keys are never shown)");
  sub(signingKeys, 'list <tenantId>', 'the public keys valid now, newest first').action(
    call('GET /v1/tenants/{}/signing-keys', (b) => table(b.keys, ['kid', 'publicKey', 'createdAt', 'expiresAt'])),
  );
  sub(signingKeys, 'rotate <tenantId>', 'new key pair; the previous keys keep signing for the grace period').action(
    call(
      'POST /v1/tenants/{}/signing-keys/rotate',
      (r) => `new key ${r.kid}
public key: ${r.publicKey}
previous keys valid until ${r.previousKeyValidUntil}`,
    ),
  );
  sub(signingKeys, 'jwks <tenantId>', 'the public JWKS receivers fetch (served without a token)').action(
    call('GET /v1/tenants/{}/jwks.json', (b) => JSON.stringify(b, null, 2)),
  );
  // --- ordered delivery (issue 17)
  const ordering = program.command('ordering').description('ordered delivery per key: paused keys and resume');
  sub(ordering, 'paused <tenantId> <endpointId>', 'list the keys paused after a failed head').action(
    call('GET /v1/tenants/{}/endpoints/{}/ordering/paused', (b) =>
      table(b.items, ['keyHash', 'eventId', 'pausedAt', 'queued']),
    ),
  );
  sub(ordering, 'resume <tenantId> <endpointId>', 'resume a paused key (its next event goes out)')
    .option('--key <key>', 'the ordering key, as events carry it')
    .option('--key-hash <hash>', 'the key hash, as `ordering paused` lists it')
    .action(
      call(
        'POST /v1/tenants/{}/endpoints/{}/ordering/resume',
        (r) => `resumed key ${r.keyHash} (${r.queued} event(s) waiting)`,
        (o) => ({ key: o.key, keyHash: o.keyHash }),
      ),
    );
  // --- end ordered delivery

  const events = program.command('events').description('publish events through the API');
  eventOptions(sub(events, 'publish <tenantId>', 'publish an event'))
    .option('--id <eventId>', 'event id, the idempotency key (default: evt_<stream entry id>)')
    .option('--traceparent <value>', "W3C traceparent of your trace: the delivery's spans continue it")
    .option('--tracestate <value>', 'W3C tracestate that goes with --traceparent')
    .action(
      call(
        'POST /v1/tenants/{}/events',
        (r) => `published ${r.id} (stream entry ${r.streamEntryId})`,
        (o) => ({
          type: o.type,
          data: jsonArg(o.data, 'data'),
          id: o.id,
          traceparent: o.traceparent,
          tracestate: o.tracestate,
          orderingKey: o.orderingKey,
        }),
      ),
    );

  const portal = program.command('portal').description('tenant portal links');
  sub(portal, 'link <tenantId>', 'mint a short-lived portal link (a URL on the --api base)')
    .option('--ttl <seconds>', 'lifetime in seconds (default 900, at most 86400)')
    .action(
      call(
        'POST /v1/tenants/{}/portal-sessions',
        // The API answers the portal's path; the link to hand out is on the API's own base URL.
        (b, base) => `${new URL(b.url, base).href}\nexpires ${b.expiresAt}`,
        (o) => {
          if (o.ttl === undefined) return {};
          const ttl = Number(o.ttl);
          if (!/^\d+$/.test(String(o.ttl)) || !Number.isSafeInteger(ttl)) {
            throw new UsageError(`--ttl must be a whole number of seconds, got ${String(o.ttl)}`);
          }
          return { ttlSeconds: ttl };
        },
      ),
    );
  sub(portal, 'revoke <tenantId>', 'end every portal link of the tenant minted until now').action(
    call('DELETE /v1/tenants/{}/portal-sessions', (b) => `portal links minted until ${b.revokedBefore} ended`),
  );

  const deliveries = program.command('deliveries').description('inspect, cancel, retry and replay deliveries');
  sub(deliveries, 'list <tenantId>', "the tenant's deliveries, one row per event, running ones first")
    .option('--status <status>', 'pending, delivered, failed, cancelled, skipped or no_subscribers')
    .option('--event-type <type>', 'only this exact event type')
    .option('--endpoint <endpointId>', 'only deliveries to this endpoint')
    .option('--since <iso>', 'started at or after (ISO 8601 with an offset)')
    .option('--until <iso>', 'started at or before (ISO 8601 with an offset)')
    .option('--limit <n>', 'page size, 1 to 100 (default 50)')
    .option('--cursor <cursor>', 'the next page: the cursor the previous page printed')
    .action(
      call(
        'GET /v1/tenants/{}/deliveries',
        (b) =>
          table(
            b.items.map((d: any) => ({ ...d, endpoints: d.endpointIds.join(',') })),
            ['startedAt', 'eventId', 'eventType', 'status', 'endpoints'],
          ) + (b.nextCursor ? `\nmore: --cursor ${b.nextCursor}` : ''),
        (o) => ({
          status: o.status,
          eventType: o.eventType,
          endpointId: o.endpoint,
          since: o.since,
          until: o.until,
          limit: o.limit,
          cursor: o.cursor,
        }),
      ),
    );
  sub(deliveries, 'get <tenantId> <eventId>', 'every attempt of an event: status, duration, error').action(
    call('GET /v1/tenants/{}/deliveries/{}', describeDelivery),
  );
  for (const verb of ['cancel', 'retry']) {
    sub(deliveries, `${verb} <tenantId> <eventId>`, `${verb} the delivery of an event`).action(
      call(`POST /v1/tenants/{}/deliveries/{}/${verb}`, (r) => JSON.stringify(r)),
    );
  }
  sub(deliveries, 'failed <tenantId>', 'list dead-lettered deliveries')
    .option('--endpoint <endpointId>', 'only this endpoint')
    .action(
      call(
        'GET /v1/tenants/{}/dead-letters',
        (b) => table(b.items, ['eventId', 'endpointId', 'lastStatusCode', 'attempts', 'lastError']),
        (o) => ({ endpointId: o.endpoint }),
      ),
    );
  sub(deliveries, 'replay <tenantId> <endpointId>', "replay an endpoint's failed deliveries in a time window")
    .requiredOption('--since <iso>', 'start of the window (ISO 8601)')
    .option('--until <iso>', 'end of the window (default: now)')
    .action(
      call(
        'POST /v1/tenants/{}/endpoints/{}/replay',
        (r) => `replayed ${r.replayed} failed deliveries`,
        pick('since', 'until'),
      ),
    );

  configure(program, io);
  return program;
}

/** Parameters named as their options. */
const pick =
  (...names: string[]) =>
  (o: Options): Body =>
    Object.fromEntries(names.map((n) => [n, o[n]]));

const ONCE = '(shown once: store it now)';

const AUTH_HELP =
  'endpoint authentication as JSON, or @file (keeps secrets out of shell history): {"type":"basic","username":…,"password":…}, {"type":"bearer","token":…}, {"type":"oauth2_client_credentials","tokenUrl":…,"clientId":…,"clientSecret":…,"scope":…,"audience":…} or {"type":"mtls","certificate":<PEM>,"privateKey":<PEM>}';

/** `--auth` as given, or the mTLS shape built from `--client-cert` and `--client-key`; undefined when neither. */
function authArg(o: Options): RawJson | undefined {
  const cert = o.clientCert;
  const key = o.clientKey;
  if (o.auth !== undefined && (cert !== undefined || key !== undefined)) {
    throw new UsageError('give either --auth or --client-cert with --client-key, not both');
  }
  if (o.auth !== undefined) return jsonArg(o.auth, 'auth');
  if (cert === undefined && key === undefined) return undefined;
  if (typeof cert !== 'string' || typeof key !== 'string') {
    throw new UsageError('--client-cert and --client-key go together');
  }
  const read = (file: string, flag: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read --${flag} file ${file}: ${(err as Error).message}`);
    }
  };
  return new RawJson(
    JSON.stringify({ type: 'mtls', certificate: read(cert, 'client-cert'), privateKey: read(key, 'client-key') }),
  );
}

function eventOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--type <type>', 'event type, e.g. order.created')
    .requiredOption('--data <json>', 'event data as JSON, or @file to read it from a file (sent as written)')
    .option('--ordering-key <key>', "the event's orderingKey stream field (ordered delivery)");
}

/**
 * Settings every command shares: errors are thrown (mapped to exit 2) and printed by `run`, not by commander;
 * help lists the global options; the root help lists every command with its arguments.
 */
function configure(program: Command, io: Output): void {
  const walk = (cmd: Command): void => {
    cmd
      .exitOverride((err) => {
        if (err.exitCode === 0) throw err;
        throw new UsageError(`${usageMessage(cmd, err)}\n(see: ${commandPath(cmd)} --help)`);
      })
      .configureOutput({
        writeOut: (text) => io.out(text.replace(/\n$/, '')),
        writeErr: (text) => io.err(text.replace(/\n$/, '')),
        outputError: () => {},
      })
      .configureHelp({ showGlobalOptions: true })
      .helpCommand(false);
    cmd.commands.forEach(walk);
  };
  walk(program);
  program.configureHelp({
    visibleCommands: (cmd) => cmd.commands.flatMap((group) => group.commands),
    subcommandTerm: (cmd) => `${cmd.parent?.name()} ${new Help().subcommandTerm(cmd)}`,
  });
}

/** Commander's messages, in the CLI's established wording where scripts and the docs rely on it. */
function usageMessage(cmd: Command, err: CommanderError): string {
  const quoted = /'([^']+)'/.exec(err.message)?.[1] ?? '';
  switch (err.code) {
    case 'commander.missingArgument':
      return `missing <${quoted}>`;
    case 'commander.missingMandatoryOptionValue':
      return `missing ${quoted.split(' ')[0]}`;
    case 'commander.help': // a group without its command: its help, listing the commands, is printed above
      return 'missing <command>';
    case 'commander.unknownCommand':
      return `unknown command "${[...commandPath(cmd).split(' ').slice(1), ...cmd.args].join(' ')}"`;
    default:
      return err.message.replace(/^error: /, '');
  }
}

function commandPath(cmd: Command): string {
  return cmd.parent ? `${commandPath(cmd.parent)} ${cmd.name()}` : cmd.name();
}

function query(params: Body): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (typeof v === 'string' && v) q.set(k, v);
  return q.size > 0 ? `?${q}` : '';
}

/** The flow control fields of `endpoints add` and `endpoints flow-control`; `none` (update only) sends null. */
function flowControlBody(o: Record<string, unknown>, update = false): Record<string, number | boolean | null> {
  const body: Record<string, number | boolean | null> = {};
  const numeric = (flag: string, field: string, value: unknown) => {
    if (value === undefined) return;
    if (update && value === 'none') {
      body[field] = null;
      return;
    }
    const n = Number(value);
    if (String(value).trim() === '' || !Number.isFinite(n)) {
      throw new UsageError(`--${flag} must be a number${update ? ' or none' : ''}, got ${String(value)}`);
    }
    body[field] = n;
  };
  numeric('rate-limit', 'rateLimit', o.rateLimit);
  numeric('burst', 'rateLimitBurst', o.burst);
  numeric('max-in-flight', 'maxInFlight', o.maxInFlight);
  const adaptive = o.adaptiveBackoff;
  if (adaptive === false) body.adaptiveBackoff = false;
  if (typeof adaptive === 'string') {
    if (adaptive !== 'on' && adaptive !== 'off') {
      throw new UsageError(`--adaptive-backoff must be on or off, got ${adaptive}`);
    }
    body.adaptiveBackoff = adaptive === 'on';
  }
  return body;
}

function jsonArg(value: string | boolean | undefined, flag: string): RawJson {
  const source = String(value);
  let text = source;
  if (source.startsWith('@')) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(source.slice(1));
    } catch (err) {
      throw new UsageError(`cannot read --${flag} file ${source.slice(1)}: ${(err as Error).message}`);
    }
    try {
      // Strict: a lenient decode would replace invalid bytes with U+FFFD and publish text nobody wrote.
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
    } catch {
      throw new UsageError(`--${flag} file ${source.slice(1)} is not valid UTF-8`);
    }
  } else if (text.includes('\uFFFD')) {
    // Node has already replaced invalid bytes in the command line with U+FFFD, so the original is lost. Refuse
    // rather than publish a rewrite; U+FFFD written on purpose can be sent escaped or from a file.
    throw new UsageError(
      `--${flag} contains U+FFFD, which is what invalid UTF-8 on the command line turns into; ` +
        'write it as \\ufffd inside a JSON string, or pass @file',
    );
  }
  try {
    JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--${flag} is not valid JSON: ${(err as Error).message}`);
  }
  return new RawJson(text);
}

/** The request body text; fields that are undefined or empty are left out, as they were never given. */
function bodyText(body: Body): string {
  const fields = Object.entries(body).filter(([, v]) => v !== undefined && v !== '');
  // `null` is a value here (it clears a field in a PATCH), sent as JSON null.
  return `{${fields.map(([k, v]) => `${JSON.stringify(k)}:${v instanceof RawJson ? v.text : JSON.stringify(v)}`).join(',')}}`;
}

/** A GET sends `params` as its query, a POST or PATCH as its JSON body. */
async function request(o: Options, envInput: Env | undefined, method: string, path: string, params: Body) {
  const env = loadCliConfig(envInput);
  const base = o.api ?? env.WSS_API_URL;
  const token = o.token ?? env.WSS_TOKEN ?? env.WSS_ADMIN_TOKEN;
  if (!URL.canParse(base)) throw new UsageError(`--api is not a URL: ${base}`);
  if (!token) throw new UsageError('no token: pass --token or set WSS_TOKEN / WSS_ADMIN_TOKEN');
  const text = method === 'POST' || method === 'PATCH' ? bodyText(params) : undefined;
  const headers = { authorization: `Bearer ${token}`, ...(text && { 'content-type': 'application/json' }) };
  let res: Response;
  try {
    res = await fetch(new URL(path + (method === 'GET' ? query(params) : ''), base), {
      method,
      headers,
      body: text,
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    throw new Error(`cannot reach the API at ${base}: ${(err as Error).message}`);
  }
  const answer = await res.text();
  let parsed: unknown;
  try {
    parsed = answer ? JSON.parse(answer) : {};
  } catch {
    parsed = { error: { code: 'bad_response', message: answer.slice(0, 200) } };
  }
  return { ok: res.ok, status: res.status, body: parsed as any, base };
}

function show(
  io: Output,
  o: Options,
  res: { ok: boolean; status: number; body: any; base: string },
  human: Human,
): number {
  if (!res.ok) {
    const error = res.body?.error;
    io.err(o.json ? JSON.stringify(res.body) : `error ${res.status}${error ? ` ${error.code}: ${error.message}` : ''}`);
    return 1;
  }
  io.out(o.json ? JSON.stringify(res.body, null, 2) : human(res.body, res.base));
  return 0;
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

function listEndpoints(b: any): string {
  const rows = b.items.map((e: any) => ({ ...e, eventTypes: e.eventTypes.join(','), enabled: String(e.enabled) }));
  return table(rows, ['id', 'url', 'eventTypes', 'enabled']) + (b.nextCursor ? `\nmore: --cursor ${b.nextCursor}` : '');
}

function dryRun(r: any): string {
  if (!r.matches) return `matches: no (${r.reason})`;
  const headers = Object.entries(r.headers).map(([k, v]) => `  ${k}: ${v}`);
  const ordering =
    r.ordering === undefined
      ? ''
      : r.ordering.key === null
        ? `ordering: no key (${r.ordering.reason})\n`
        : `ordering: key ${JSON.stringify(r.ordering.key)} (hash ${r.ordering.keyHash})\n`;
  return `matches: yes\n${ordering}headers:\n${headers.join('\n')}\nbody:\n${r.body}`;
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
