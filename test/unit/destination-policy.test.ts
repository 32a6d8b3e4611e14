import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { describe, it } from 'node:test';
import { DestinationNotAllowedError } from '../../src/domain/errors';
import { ConfigError } from '../../src/infra/config';
import { DestinationPolicy } from '../../src/infra/egress/destination-policy';
import type { ResolvedAddress, Resolver } from '../../src/infra/egress/destination-policy';

/** A resolver with a fixed zone; any other name fails like NXDOMAIN, so no test can reach real DNS. */
function stubResolver(zone: Record<string, string[]>): Resolver & { calls: string[] } {
  const calls: string[] = [];
  const resolve = async (hostname: string): Promise<ResolvedAddress[]> => {
    calls.push(hostname);
    const answers = zone[hostname.toLowerCase().replace(/\.$/, '')];
    if (answers === undefined)
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return answers.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(resolve, { calls });
}

const zone = {
  'hooks.example.com': ['93.184.215.14'],
  'dual.example.com': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'],
  'private.test': ['10.0.0.5'],
  'mixed.test': ['93.184.215.14', '192.168.0.10'],
  'v6loop.test': ['::1'],
  'metadata.test': ['169.254.169.254'],
  'mapped.test': ['::ffff:127.0.0.1'],
  localhost: ['127.0.0.1'],
  'app.localhost': ['127.0.0.1'],
  'public.localhost': ['93.184.215.14'],
};

function policy(options: { allowCidrs?: string[]; httpsOnly?: boolean } = {}): DestinationPolicy {
  return new DestinationPolicy(
    { allowCidrs: options.allowCidrs ?? [], httpsOnly: options.httpsOnly ?? false },
    stubResolver(zone),
  );
}

async function assertRefused(work: Promise<unknown> | (() => unknown), reason: RegExp): Promise<void> {
  await assert.rejects(
    async () => (typeof work === 'function' ? work() : work),
    (err: unknown) => {
      assert.ok(err instanceof DestinationNotAllowedError, `expected DestinationNotAllowedError, got ${String(err)}`);
      assert.equal(err.code, 'destination_not_allowed');
      assert.match(err.reason, reason);
      return true;
    },
  );
}

/** `{port}` is replaced by nothing and by `:8443`, so every case runs with and without an explicit port. */
const hostile: ReadonlyArray<{ url: string; reason: RegExp; portless?: true }> = [
  // IPv4 loopback in every spelling the WHATWG parser normalises
  { url: 'http://127.0.0.1{port}/', reason: /^loopback address 127\.0\.0\.1$/ },
  { url: 'http://2130706433{port}/', reason: /^loopback address 127\.0\.0\.1$/ },
  { url: 'http://0x7f.1{port}/', reason: /^loopback address 127\.0\.0\.1$/ },
  { url: 'http://127.1{port}/', reason: /^loopback address 127\.0\.0\.1$/ },
  { url: 'http://0177.0.0.1{port}/', reason: /^loopback address 127\.0\.0\.1$/ },
  { url: 'http://127.255.255.254{port}/hook', reason: /^loopback address 127\.255\.255\.254$/ },
  { url: 'https://0x7F000001{port}/', reason: /^loopback address 127\.0\.0\.1$/ },
  // unspecified, broadcast, multicast
  { url: 'http://0.0.0.0{port}/', reason: /^unspecified address 0\.0\.0\.0$/ },
  { url: 'http://0{port}/', reason: /^unspecified address 0\.0\.0\.0$/ },
  { url: 'http://255.255.255.255{port}/', reason: /^broadcast address 255\.255\.255\.255$/ },
  { url: 'http://224.0.0.1{port}/', reason: /^multicast address 224\.0\.0\.1$/ },
  // RFC 1918, CGNAT, link-local
  { url: 'http://10.0.0.1{port}/', reason: /^private address 10\.0\.0\.1$/ },
  { url: 'http://0x0a.0.0.1{port}/', reason: /^private address 10\.0\.0\.1$/ },
  { url: 'http://172.16.0.1{port}/', reason: /^private address 172\.16\.0\.1$/ },
  { url: 'http://192.168.1.1{port}/', reason: /^private address 192\.168\.1\.1$/ },
  { url: 'http://100.64.0.1{port}/', reason: /^carrier-grade NAT address 100\.64\.0\.1$/ },
  { url: 'http://169.254.0.1{port}/', reason: /^link-local address 169\.254\.0\.1$/ },
  // cloud metadata
  { url: 'http://169.254.169.254{port}/latest/meta-data/', reason: /^cloud metadata address 169\.254\.169\.254$/ },
  { url: 'http://169.254.170.2{port}/v2/credentials', reason: /^cloud metadata address 169\.254\.170\.2$/ },
  { url: 'http://[fd00:ec2::254]{port}/', reason: /^cloud metadata address fd00:ec2::254$/ },
  { url: 'http://100.100.100.200{port}/', reason: /^cloud metadata address 100\.100\.100\.200$/ },
  { url: 'http://168.63.129.16{port}/', reason: /^cloud metadata address 168\.63\.129\.16$/ },
  { url: 'http://[::ffff:169.254.169.254]{port}/', reason: /^cloud metadata address 169\.254\.169\.254 \(IPv4-mapped/ },
  // reserved, documentation, benchmarking, AS112, AMT
  { url: 'http://192.0.2.1{port}/', reason: /^reserved address 192\.0\.2\.1$/ },
  { url: 'http://198.18.0.1{port}/', reason: /^reserved address 198\.18\.0\.1$/ },
  { url: 'http://240.0.0.1{port}/', reason: /^reserved address 240\.0\.0\.1$/ },
  { url: 'http://192.175.48.1{port}/', reason: /^AS112 address 192\.175\.48\.1$/ },
  { url: 'http://192.52.193.1{port}/', reason: /^AMT address 192\.52\.193\.1$/ },
  // IPv6 specials
  { url: 'http://[::1]{port}/', reason: /^loopback address ::1$/ },
  { url: 'http://[::]{port}/', reason: /^unspecified address ::$/ },
  { url: 'http://[fe80::1]{port}/', reason: /^link-local address fe80::1$/ },
  { url: 'http://[fd00::1]{port}/', reason: /^unique-local address fd00::1$/ },
  { url: 'http://[fc00::1]{port}/', reason: /^unique-local address fc00::1$/ },
  { url: 'http://[fec0::1]{port}/', reason: /^site-local address fec0::1$/ },
  { url: 'http://[ff02::1]{port}/', reason: /^multicast address ff02::1$/ },
  { url: 'http://[2001:db8::1]{port}/', reason: /^reserved address 2001:db8::1$/ },
  { url: 'http://[100::1]{port}/', reason: /^discard-only address 100::1$/ },
  { url: 'http://[4000::1]{port}/', reason: /^non-global IPv6 address 4000::1$/ },
  // IPv6 forms that embed an IPv4 address
  { url: 'http://[::ffff:7f00:1]{port}/', reason: /^loopback address 127\.0\.0\.1 \(IPv4-mapped ::ffff:7f00:1\)$/ },
  { url: 'http://[0:0:0:0:0:ffff:127.0.0.1]{port}/', reason: /^loopback address 127\.0\.0\.1 \(IPv4-mapped/ },
  { url: 'http://[::ffff:a00:1]{port}/', reason: /^private address 10\.0\.0\.1 \(IPv4-mapped/ },
  { url: 'http://[::127.0.0.1]{port}/', reason: /^IPv4-compatible address ::7f00:1$/ },
  { url: 'http://[64:ff9b::7f00:1]{port}/', reason: /^loopback address 127\.0\.0\.1 \(NAT64 64:ff9b::7f00:1\)$/ },
  { url: 'http://[64:ff9b::a9fe:a9fe]{port}/', reason: /^cloud metadata address 169\.254\.169\.254 \(NAT64/ },
  { url: 'http://[64:ff9b:1::7f00:1]{port}/', reason: /^local-use NAT64 address 64:ff9b:1::7f00:1$/ },
  { url: 'http://[::ffff:0:7f00:1]{port}/', reason: /^IPv4-translated address/ },
  { url: 'http://[2002:7f00:1::]{port}/', reason: /^6to4 address 2002:7f00:1::$/ },
  {
    url: 'http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]{port}/',
    reason: /^Teredo address 2001:0:4136:e378:8000:63bf:3fff:fdd2$/,
  },
  // names
  { url: 'http://localhost{port}/', reason: /^localhost is not allowed$/ },
  { url: 'http://LOCALHOST.{port}/', reason: /^localhost is not allowed$/ },
  { url: 'http://app.localhost{port}/', reason: /^localhost is not allowed$/ },
  { url: 'http://public.localhost{port}/', reason: /^localhost is not allowed$/ },
  { url: 'https://private.test{port}/hook', reason: /^resolves to private address 10\.0\.0\.5$/ },
  { url: 'https://mixed.test{port}/hook', reason: /^resolves to private address 192\.168\.0\.10$/ },
  { url: 'https://v6loop.test{port}/hook', reason: /^resolves to loopback address ::1$/ },
  { url: 'https://metadata.test{port}/hook', reason: /^resolves to cloud metadata address 169\.254\.169\.254$/ },
  { url: 'https://mapped.test{port}/hook', reason: /^resolves to loopback address 127\.0\.0\.1 \(IPv4-mapped/ },
  { url: 'https://nxdomain.test{port}/hook', reason: /^hostname does not resolve$/ },
  // schemes
  { url: 'ftp://hooks.example.com{port}/', reason: /^only http and https URLs are allowed$/ },
  { url: 'gopher://hooks.example.com{port}/_', reason: /^only http and https URLs are allowed$/ },
  { url: 'ws://hooks.example.com{port}/', reason: /^only http and https URLs are allowed$/ },
  { url: 'file:///etc/passwd', reason: /^only http and https URLs are allowed$/, portless: true },
  { url: 'data:text/plain,hello', reason: /^only http and https URLs are allowed$/, portless: true },
  { url: 'javascript:alert(1)', reason: /^only http and https URLs are allowed$/, portless: true },
  // credentials
  { url: 'https://user:secret@hooks.example.com{port}/', reason: /^URL must not contain credentials$/ },
  { url: 'https://user@hooks.example.com{port}/', reason: /^URL must not contain credentials$/ },
  { url: 'https://:secret@hooks.example.com{port}/', reason: /^URL must not contain credentials$/ },
  // garbage
  { url: 'not a url', reason: /^not a valid URL$/, portless: true },
  { url: 'http://[::1{port}/', reason: /^not a valid URL$/ },
];

function withPorts(template: string, portless: boolean | undefined): string[] {
  return portless ? [template] : [template.replace('{port}', ''), template.replace('{port}', ':8443')];
}

describe('DestinationPolicy.checkUrl at registration', () => {
  it('covers at least 40 hostile URLs', () => {
    assert.ok(hostile.length >= 40, `only ${hostile.length} cases`);
  });

  for (const { url: template, reason, portless } of hostile) {
    for (const url of withPorts(template, portless)) {
      it(`refuses ${url}`, async () => {
        await assertRefused(policy().checkUrl(url), reason);
      });
    }
  }

  const allowed = [
    'http://93.184.215.14/',
    'http://93.184.215.14:8080/hook?x=1',
    'https://[2606:4700::1111]/',
    'https://[2606:4700::1111]:8443/',
    'https://hooks.example.com/webhooks',
    'https://hooks.example.com:8443/webhooks',
    'https://dual.example.com/',
    'https://[::ffff:8.8.8.8]/',
    'https://[64:ff9b::808:808]/',
  ];
  for (const url of allowed) {
    it(`accepts the public destination ${url}`, async () => {
      const parsed = await policy().checkUrl(url);
      assert.equal(parsed.href, new URL(url).href);
    });
  }

  it('returns the WHATWG-normalised URL', async () => {
    const parsed = await policy({ allowCidrs: ['127.0.0.0/8'] }).checkUrl('http://0x7f.1:9000/a');
    assert.equal(parsed.href, 'http://127.0.0.1:9000/a');
  });

  it('never echoes the URL, path or credentials in the error', async () => {
    await assert.rejects(policy().checkUrl('https://user:hunter2@private.test/secret-path?token=abc'), (err: Error) => {
      assert.doesNotMatch(err.message, /hunter2|secret-path|token|private\.test/);
      return true;
    });
  });

  it('resolves names through the injected resolver, not real DNS', async () => {
    const resolver = stubResolver(zone);
    await new DestinationPolicy({ allowCidrs: [], httpsOnly: false }, resolver).checkUrl('https://hooks.example.com/');
    assert.deepEqual(resolver.calls, ['hooks.example.com']);
  });

  it('does not resolve IP-literal hosts', async () => {
    const resolver = stubResolver(zone);
    await new DestinationPolicy({ allowCidrs: [], httpsOnly: false }, resolver).checkUrl('https://93.184.215.14/');
    assert.deepEqual(resolver.calls, []);
  });
});

describe('DestinationPolicy allowlist', () => {
  const local = () => policy({ allowCidrs: ['127.0.0.0/8'] });

  it('lets loopback through when 127.0.0.0/8 is allowlisted', async () => {
    await local().checkUrl('http://127.0.0.1:3000/');
    await local().checkUrl('http://127.1/');
    await local().checkUrl('http://[::ffff:127.0.0.1]/');
    await local().checkUrl('http://localhost:3000/');
  });

  it('still refuses other private ranges when only loopback is allowlisted', async () => {
    await assertRefused(local().checkUrl('http://10.0.0.1/'), /^private address 10\.0\.0\.1$/);
    await assertRefused(local().checkUrl('http://[::1]/'), /^loopback address ::1$/);
  });

  it('keeps refusing localhost names that resolve outside the allowlist, even to a public address', async () => {
    await assertRefused(local().checkUrl('http://public.localhost/'), /^localhost is not allowed$/);
  });

  it('keeps cloud metadata blocked even when its CIDR is allowlisted', async () => {
    const wide = policy({ allowCidrs: ['169.254.0.0/16', '100.64.0.0/10'] });
    await wide.checkUrl('http://169.254.0.1/');
    await assertRefused(wide.checkUrl('http://169.254.169.254/'), /^cloud metadata address/);
    await assertRefused(wide.checkUrl('http://100.100.100.200/'), /^cloud metadata address/);
  });

  it('accepts single addresses and IPv6 CIDRs', async () => {
    const p = policy({ allowCidrs: ['10.1.2.3', 'fd00::/8'] });
    await p.checkUrl('http://10.1.2.3/');
    await p.checkUrl('http://[fd12::1]/');
    await assertRefused(p.checkUrl('http://10.1.2.4/'), /^private address 10\.1\.2\.4$/);
  });

  it('rejects a malformed allowlist entry at construction', () => {
    assert.throws(() => policy({ allowCidrs: ['10.0.0.0/33'] }), ConfigError);
    assert.throws(() => policy({ allowCidrs: ['intranet'] }), /WSS_EGRESS_ALLOW_CIDRS/);
  });
});

describe('DestinationPolicy httpsOnly', () => {
  it('refuses http URLs when httpsOnly is set', async () => {
    await assertRefused(policy({ httpsOnly: true }).checkUrl('http://93.184.215.14/'), /^only https URLs are allowed$/);
  });

  it('accepts https URLs when httpsOnly is set', async () => {
    await policy({ httpsOnly: true }).checkUrl('https://hooks.example.com/');
  });

  it('accepts http URLs when httpsOnly is not set', async () => {
    await policy().checkUrl('http://hooks.example.com/');
  });
});

describe('DestinationPolicy.checkAddress', () => {
  it('accepts global unicast', () => {
    policy().checkAddress('93.184.215.14');
    policy().checkAddress('2606:4700::1111');
  });

  it('refuses with a specific reason', async () => {
    await assertRefused(() => policy().checkAddress('10.0.0.5'), /^private address 10\.0\.0\.5$/);
    await assertRefused(() => policy().checkAddress('127.0.0.1'), /^loopback address 127\.0\.0\.1$/);
    await assertRefused(() => policy().checkAddress('bogus'), /^not an IP address$/);
  });
});

describe('DestinationPolicy.createPinnedLookup', () => {
  function lookup(
    p: DestinationPolicy,
    hostname: string,
    options: { all?: boolean; family?: number },
  ): Promise<{ err: NodeJS.ErrnoException | null; address: string | LookupAddress[]; family: number | undefined }> {
    return new Promise((resolve) => {
      p.createPinnedLookup()(hostname, options, (err, address, family) => resolve({ err, address, family }));
    });
  }

  it('answers with every checked address when all is true', async () => {
    const { err, address } = await lookup(policy(), 'dual.example.com', { all: true });
    assert.equal(err, null);
    assert.deepEqual(address, [
      { address: '93.184.215.14', family: 4 },
      { address: '2606:2800:21f:cb07:6820:80da:af6b:8b2c', family: 6 },
    ]);
  });

  it('answers with the first checked address when all is false', async () => {
    const { err, address, family } = await lookup(policy(), 'dual.example.com', {});
    assert.equal(err, null);
    assert.equal(address, '93.184.215.14');
    assert.equal(family, 4);
  });

  it('honours the requested family', async () => {
    const { address, family } = await lookup(policy(), 'dual.example.com', { family: 6 });
    assert.equal(address, '2606:2800:21f:cb07:6820:80da:af6b:8b2c');
    assert.equal(family, 6);
  });

  it('fails with ENOTFOUND when no answer has the requested family', async () => {
    const { err } = await lookup(policy(), 'hooks.example.com', { family: 6, all: true });
    assert.equal(err?.code, 'ENOTFOUND');
  });

  it('fails with the policy error when any answer is refused', async () => {
    const { err } = await lookup(policy(), 'mixed.test', { all: true });
    assert.ok(err instanceof DestinationNotAllowedError);
    assert.equal(err.reason, 'resolves to private address 192.168.0.10');
  });

  it('passes resolver failures through unchanged so deliveries can retry them', async () => {
    const { err } = await lookup(policy(), 'nxdomain.test', { all: true });
    assert.ok(!(err instanceof DestinationNotAllowedError));
    assert.equal(err?.code, 'ENOTFOUND');
  });

  it('resolves once per call, so the answer it returns is the answer it checked', async () => {
    const answers = ['93.184.215.14', '127.0.0.1'];
    let calls = 0;
    const flipping: Resolver = async () => {
      const address = answers[Math.min(calls++, answers.length - 1)]!;
      return [{ address, family: 4 }];
    };
    const p = new DestinationPolicy({ allowCidrs: [], httpsOnly: false }, flipping);
    const first = await lookup(p, 'rebind.test', {});
    assert.equal(first.address, '93.184.215.14');
    const second = await lookup(p, 'rebind.test', {});
    assert.ok(second.err instanceof DestinationNotAllowedError);
    assert.equal(calls, 2);
  });
});
