import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { urlSchema } from '../../src/api/schemas';

/**
 * Issue 11, item 11: a URL is stored as written and delivered as the WHATWG URL parser reads it. Where the two
 * differ in scheme or authority, the stored URL says something else than where deliveries go (an RFC 3986 reader
 * of `http://127.0.0.1:9100\@evil.example/x` sees the host evil.example; deliveries go to 127.0.0.1), so such a
 * URL is refused at registration.
 */
describe('endpoint URL: scheme and authority exactly as the URL parser reads them', () => {
  const refused: [description: string, url: string, fragment: RegExp][] = [
    // The issue's inputs.
    ['an empty userinfo with a colon', 'http://:@127.0.0.1:9100/x', /userinfo/],
    ['an empty userinfo', 'http://@127.0.0.1:9100/x', /userinfo/],
    ['a single slash', 'http:/127.0.0.1:9100/x', /must start with/],
    ['no slashes', 'http:127.0.0.1:9100/x', /must start with/],
    ['backslashes', 'http:\\\\127.0.0.1:9100\\x', /backslash|must start with/],
    ['a backslash before an @', 'http://127.0.0.1:9100\\@evil.example/x', /backslash|userinfo/],
    // More of the same kind.
    ['a backslash in the path', 'http://127.0.0.1:9100/a\\b', /backslash/],
    ['a backslash after the slashes', 'http://\\127.0.0.1:9100/x', /backslash/],
    ['three slashes', 'http:///127.0.0.1:9100/x', /must start with|host/],
    ['a user name before the host', 'http://evil.example@127.0.0.1:9100/x', /userinfo|credentials/],
    ['an upper-case scheme', 'HTTP://127.0.0.1:9100/x', /lower case|written as/],
    ['a mixed-case scheme', 'Https://example.com/x', /lower case|written as/],
    ['an upper-case host', 'https://Example.COM/x', /written as/],
    ['an IPv4 address as one number', 'http://2130706433/x', /written as/],
    ['a shortened IPv4 address', 'http://127.1:9100/x', /written as/],
    ['a hexadecimal IPv4 address', 'http://0x7f.0.0.1/x', /written as/],
    ['an octal IPv4 address', 'http://0177.0.0.1/x', /written as/],
    ['a percent-encoded host', 'http://%31%32%37.0.0.1/x', /written as/],
    ['a non-ASCII host', 'https://bücher.example/x', /written as/],
    ['a full-width host', 'http://１２７.０.０.１/x', /written as/],
    ['the default port written out', 'http://example.com:80/x', /written as/],
    ['the default https port written out', 'https://example.com:443/x', /written as/],
    ['an empty port', 'http://example.com:/x', /written as/],
    ['a port with leading zeros', 'http://example.com:08080/x', /written as/],
    ['an IPv6 address with the default port', 'http://[2001:db8::1]:80/x', /written as/],
    ['an IPv6 address with an empty port', 'http://[2001:db8::1]:/x', /written as/],
    ['an upper-case scheme before an IPv6 address', 'HTTP://[2001:db8::1]/x', /lower case/],
  ];
  for (const [description, url, fragment] of refused) {
    it(`refuses ${description}: ${JSON.stringify(url)}`, () => {
      const result = urlSchema.safeParse(url);
      assert.equal(result.success, false, `accepted ${url}`);
      const messages = result.error?.issues.map((i) => i.message).join('; ') ?? '';
      assert.match(messages, fragment);
    });
  }

  const accepted = [
    'http://127.0.0.1:9100/x',
    'https://example.com/hooks/1?a=b&c=%20',
    'https://example.com',
    'https://example.com?x=1',
    'https://hooks.example.com:8443/in',
    'http://[2001:db8::1]:8080/x',
    'https://xn--bcher-kva.example/x',
    'https://example.com./x',
    'https://a-b.example/é',
    // An IPv6 literal is one address however it is written: every reader parses it the same way.
    'http://[2001:db8:0:0:0:0:0:1]/x',
    'http://[2001:DB8::1]:8080/x',
    'http://[::ffff:10.0.0.1]/x',
  ];
  for (const url of accepted) {
    it(`accepts ${url}`, () => {
      const result = urlSchema.safeParse(url);
      assert.equal(result.success, true, JSON.stringify(result.error?.issues));
    });
  }
});
