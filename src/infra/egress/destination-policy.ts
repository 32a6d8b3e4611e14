import dns from 'node:dns';
import net from 'node:net';
import type { LookupAddress, LookupOptions } from 'node:dns';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { DestinationNotAllowedError } from '../../domain/errors';
import { ConfigError } from '../config';

/**
 * The SSRF guard: decides which URLs an endpoint may register and which addresses a delivery may connect to.
 *
 * The same rules run twice. At registration `checkUrl` gives the tenant an immediate, explicit error. At delivery
 * the pinned lookup re-resolves the name and hands the socket only addresses it has just checked, so a name that
 * was public at registration and points at 127.0.0.1 now (DNS rebinding) is refused before any packet is sent.
 */

export interface EgressPolicyOptions {
  /**
   * CIDRs (or single addresses) exempt from the address rules, e.g. `127.0.0.0/8` for local runs.
   * Cloud metadata addresses stay blocked even when a CIDR covers them. Default (from config): none.
   */
  readonly allowCidrs: readonly string[];
  /** Reject `http:` URLs. Default (from config): false. */
  readonly httpsOnly: boolean;
}

export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/** Name resolution, injectable so tests never touch real DNS. Errors should carry Node's `code` (`ENOTFOUND`…). */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

type Address = ipaddr.IPv4 | ipaddr.IPv6;
type Cidr = [Address, number];

/**
 * Addresses that hand out cloud credentials. Most already fall in a blocked range, but they stay blocked even
 * when an operator allowlists the surrounding CIDR (e.g. `169.254.0.0/16` or `100.64.0.0/10`), and Azure's
 * WireServer is a public-looking address that range classification alone would let through.
 */
const CLOUD_METADATA_ADDRESSES: readonly Address[] = [
  '169.254.169.254', // AWS, GCP, Azure, OpenStack, Oracle, DigitalOcean
  '169.254.170.2', // AWS ECS task credentials
  'fd00:ec2::254', // AWS IMDS over IPv6
  '100.100.100.200', // Alibaba Cloud
  '168.63.129.16', // Azure WireServer
].map((ip) => ipaddr.parse(ip));

// The few rules ipaddr.js's range() does not express. Everything else comes from its classification.
/** RFC 6052 well-known NAT64 prefix: the last 32 bits are the IPv4 destination the gateway will reach. */
const NAT64_WELL_KNOWN = ipaddr.parseCIDR('64:ff9b::/96');
/** RFC 4291 deprecated IPv4-compatible addresses (`::a.b.c.d`); range() calls them unicast. */
const IPV4_COMPATIBLE = ipaddr.parseCIDR('::/96');
/** The only IPv6 space IANA allocates for global unicast; range() calls unallocated space unicast too. */
const IPV6_GLOBAL_UNICAST = ipaddr.parseCIDR('2000::/3');

/** Labels for reasons; a range name not listed here is still blocked and reported by its ipaddr.js name. */
const RANGE_LABELS: Readonly<Record<string, string>> = {
  unspecified: 'unspecified',
  broadcast: 'broadcast',
  multicast: 'multicast',
  linkLocal: 'link-local',
  loopback: 'loopback',
  carrierGradeNat: 'carrier-grade NAT',
  private: 'private',
  reserved: 'reserved',
  as112: 'AS112',
  as112v6: 'AS112',
  amt: 'AMT',
  benchmarking: 'benchmarking',
  uniqueLocal: 'unique-local',
  deprecatedSiteLocal: 'site-local',
  discard: 'discard-only',
  rfc6145: 'IPv4-translated',
  rfc6052: 'local-use NAT64',
  '6to4': '6to4',
  teredo: 'Teredo',
  orchid2: 'ORCHID',
  deprecatedOrchid: 'ORCHID',
  droneRemoteIdProtocolEntityTags: 'DRIP',
  segmentRouting: 'segment-routing',
};

const defaultResolver: Resolver = async (hostname) => {
  const answers = await dns.promises.lookup(hostname, { all: true, verbatim: true });
  return answers.flatMap((a) => (a.family === 4 || a.family === 6 ? [{ address: a.address, family: a.family }] : []));
};

export class DestinationPolicy {
  private readonly allowCidrs: readonly Cidr[];
  private readonly httpsOnly: boolean;

  /**
   * @param options the egress rules; an entry of `allowCidrs` that is not a CIDR or address throws
   *   {@link ConfigError} so a typo fails at start-up instead of silently allowing nothing.
   * @param resolver name resolution used by `checkUrl` and the pinned lookup. Default: `dns.lookup` with
   *   `{ all: true, verbatim: true }` (the OS resolver, including /etc/hosts, as Node itself would use).
   */
  constructor(
    options: EgressPolicyOptions,
    private readonly resolver: Resolver = defaultResolver,
  ) {
    this.allowCidrs = options.allowCidrs.map(parseAllowCidr);
    this.httpsOnly = options.httpsOnly;
  }

  /**
   * Throws {@link DestinationNotAllowedError} unless `ip` is globally routable unicast or inside an allowlisted
   * CIDR. IPv4-mapped and NAT64 addresses are judged by the IPv4 address they embed.
   */
  checkAddress(ip: string): void {
    const reason = this.addressViolation(ip);
    if (reason !== undefined) throw new DestinationNotAllowedError(reason);
  }

  /**
   * The registration-time check: syntax and scheme, then every address the host resolves to.
   * A name that does not resolve is refused, because an endpoint that cannot be checked cannot be trusted.
   * Returns the parsed URL (WHATWG-normalised, so `http://2130706433` comes back as `http://127.0.0.1`).
   */
  async checkUrl(rawUrl: string): Promise<URL> {
    const url = this.checkUrlStatically(rawUrl);
    if (hostAddress(url) === undefined) {
      try {
        await this.resolveChecked(url.hostname);
      } catch (err) {
        if (err instanceof DestinationNotAllowedError) throw err;
        throw new DestinationNotAllowedError('hostname does not resolve');
      }
    }
    return url;
  }

  /**
   * Everything `checkUrl` does except DNS: scheme, credentials and IP-literal hosts. The delivery path uses this
   * and leaves names to the pinned lookup, so it resolves exactly once per connection.
   */
  checkUrlStatically(rawUrl: string): URL {
    let url: URL;
    try {
      url = new URL(rawUrl);
    } catch {
      throw new DestinationNotAllowedError('not a valid URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new DestinationNotAllowedError(
        this.httpsOnly ? 'only https URLs are allowed' : 'only http and https URLs are allowed',
      );
    }
    if (url.protocol === 'http:' && this.httpsOnly) throw new DestinationNotAllowedError('only https URLs are allowed');
    if (url.username !== '' || url.password !== '') {
      throw new DestinationNotAllowedError('URL must not contain credentials');
    }
    if (url.hostname === '') throw new DestinationNotAllowedError('URL has no host');
    const literal = hostAddress(url);
    if (literal !== undefined) this.checkAddress(literal);
    return url;
  }

  /**
   * Resolves `hostname` once and returns its answers only if every one passes {@link checkAddress}, in canonical
   * form. Policy failures throw {@link DestinationNotAllowedError}; resolver failures (`ENOTFOUND`, `EAI_AGAIN`)
   * are rethrown unchanged so a delivery can treat them as transient.
   */
  async resolveChecked(hostname: string): Promise<ResolvedAddress[]> {
    const bare = stripBrackets(hostname);
    if (net.isIP(bare) !== 0) {
      this.checkAddress(bare);
      return [canonical(ipaddr.parse(bare))];
    }
    const answers = await this.resolver(hostname);
    if (answers.length === 0) throw resolutionError(hostname);
    const localName = isLocalhostName(hostname);
    return answers.map(({ address }) => {
      if (!ipaddr.isValid(address)) throw new DestinationNotAllowedError('resolves to an invalid address');
      const parsed = ipaddr.parse(address);
      // `localhost` is special-use (RFC 6761): its answers are never public, so it passes only when allowlisted,
      // however the resolver answered.
      if (localName && !this.isExplicitlyAllowed(parsed))
        throw new DestinationNotAllowedError('localhost is not allowed');
      const reason = this.addressViolation(address);
      if (reason !== undefined) throw new DestinationNotAllowedError(`resolves to ${reason}`);
      return canonical(parsed);
    });
  }

  /**
   * A `net.LookupFunction` for undici's `connect: { lookup }`. Each new connection resolves once, checks every
   * answer, and gives the socket only the checked addresses, so the address connected to is the address checked.
   * Node does not call `lookup` for IP-literal hosts; callers must check those with {@link checkAddress}.
   */
  createPinnedLookup(): LookupFunction {
    return (hostname: string, options: LookupOptions, callback) => {
      this.resolveChecked(hostname).then(
        (answers) => {
          const family = lookupFamily(options.family);
          const usable = family === 0 ? answers : answers.filter((a) => a.family === family);
          const first = usable[0];
          if (first === undefined) {
            callback(resolutionError(hostname), options.all === true ? [] : '');
          } else if (options.all === true) {
            callback(
              null,
              usable.map((a): LookupAddress => ({ address: a.address, family: a.family })),
            );
          } else {
            callback(null, first.address, first.family);
          }
        },
        (err: unknown) => {
          callback(toErrnoException(err), options.all === true ? [] : '');
        },
      );
    };
  }

  private addressViolation(ip: string): string | undefined {
    if (!ipaddr.isValid(ip)) return 'not an IP address';
    return this.violation(ipaddr.parse(ip));
  }

  /** Returns the reason an address is refused, or undefined when it may be connected to. */
  private violation(address: Address): string | undefined {
    if (isCloudMetadata(address)) return `cloud metadata address ${address.toString()}`;
    if (this.isExplicitlyAllowed(address)) return undefined;
    if (address.kind() === 'ipv4') {
      const range: string = address.range();
      return range === 'unicast' ? undefined : `${label(range)} address ${address.toString()}`;
    }
    const v6 = address as ipaddr.IPv6;
    const range: string = v6.range();
    if (range === 'ipv4Mapped') return this.embeddedViolation(v6.toIPv4Address(), `IPv4-mapped ${v6.toString()}`);
    if (v6.match(NAT64_WELL_KNOWN)) return this.embeddedViolation(embeddedIPv4(v6), `NAT64 ${v6.toString()}`);
    if (range !== 'unicast') return `${label(range)} address ${v6.toString()}`;
    if (v6.match(IPV4_COMPATIBLE)) return `IPv4-compatible address ${v6.toString()}`;
    if (!v6.match(IPV6_GLOBAL_UNICAST)) return `non-global IPv6 address ${v6.toString()}`;
    return undefined;
  }

  private embeddedViolation(embedded: ipaddr.IPv4, via: string): string | undefined {
    const reason = this.violation(embedded);
    return reason === undefined ? undefined : `${reason} (${via})`;
  }

  private isExplicitlyAllowed(address: Address): boolean {
    const candidates: Address[] = [address];
    if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()) {
      candidates.push((address as ipaddr.IPv6).toIPv4Address());
    }
    return candidates.some((candidate) =>
      this.allowCidrs.some(([network, bits]) => network.kind() === candidate.kind() && candidate.match(network, bits)),
    );
  }
}

function parseAllowCidr(entry: string): Cidr {
  if (ipaddr.isValidCIDR(entry)) return ipaddr.parseCIDR(entry);
  if (net.isIP(entry) !== 0) {
    const address = ipaddr.parse(entry);
    return [address, address.kind() === 'ipv4' ? 32 : 128];
  }
  throw new ConfigError([`WSS_EGRESS_ALLOW_CIDRS: "${entry}" is not a CIDR or IP address`]);
}

function label(range: string): string {
  return RANGE_LABELS[range] ?? `special-purpose (${range})`;
}

function isCloudMetadata(address: Address): boolean {
  return CLOUD_METADATA_ADDRESSES.some(
    (metadata) => metadata.kind() === address.kind() && metadata.toNormalizedString() === address.toNormalizedString(),
  );
}

function embeddedIPv4(address: ipaddr.IPv6): ipaddr.IPv4 {
  const bytes = address.toByteArray().slice(12);
  return new ipaddr.IPv4(bytes);
}

function canonical(address: Address): ResolvedAddress {
  return { address: address.toString(), family: address.kind() === 'ipv4' ? 4 : 6 };
}

/** The IP a URL's host is, or undefined for a name. WHATWG URL has already normalised IPv4 shorthand. */
function hostAddress(url: URL): string | undefined {
  const bare = stripBrackets(url.hostname);
  return net.isIP(bare) === 0 ? undefined : bare;
}

function stripBrackets(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

function isLocalhostName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost');
}

function lookupFamily(family: LookupOptions['family']): 0 | 4 | 6 {
  if (family === 4 || family === 'IPv4') return 4;
  if (family === 6 || family === 'IPv6') return 6;
  return 0;
}

function resolutionError(hostname: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
  err.code = 'ENOTFOUND';
  err.syscall = 'getaddrinfo';
  return err;
}

function toErrnoException(err: unknown): NodeJS.ErrnoException {
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * The allowlist entries that open non-public address space (loopback, private, link-local, ...). Start-up warns
 * about them: they are right for local runs and private deployments, and a hole anywhere else.
 */
export function nonPublicAllowlistEntries(allowCidrs: readonly string[]): string[] {
  return allowCidrs.filter((entry) => {
    const [network] = parseAllowCidr(entry);
    return network.range() !== 'unicast';
  });
}
