import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clampRetryAfterMs, parseRetryAfter } from '../../src/domain/retry-after';

// Sun, 06 Nov 1994 08:49:37 GMT, the RFC's own example date.
const RFC_EXAMPLE = Date.UTC(1994, 10, 6, 8, 49, 37);
const NOW = RFC_EXAMPLE - 120_000;

describe('parseRetryAfter', () => {
  const cases: [string, string | undefined, number, number | undefined][] = [
    ['absent header', undefined, NOW, undefined],
    ['empty header', '', NOW, undefined],
    ['delta-seconds', '120', NOW, 120_000],
    ['zero delta-seconds', '0', NOW, 0],
    ['delta-seconds with surrounding whitespace', '  30 ', NOW, 30_000],
    ['delta-seconds with leading zeros', '007', NOW, 7_000],
    ['an absurdly long delta-seconds as the largest safe delay', '9'.repeat(400), NOW, Number.MAX_SAFE_INTEGER],
    ['IMF-fixdate in the future', 'Sun, 06 Nov 1994 08:49:37 GMT', NOW, 120_000],
    ['IMF-fixdate in any letter case', 'sun, 06 NOV 1994 08:49:37 gmt', NOW, 120_000],
    ['IMF-fixdate in the past as 0', 'Sun, 06 Nov 1994 08:49:37 GMT', RFC_EXAMPLE + 5_000, 0],
    ['IMF-fixdate exactly now as 0', 'Sun, 06 Nov 1994 08:49:37 GMT', RFC_EXAMPLE, 0],
    ['IMF-fixdate on a leap day', 'Thu, 29 Feb 2024 00:00:00 GMT', Date.UTC(2024, 1, 28), 86_400_000],
    ['IMF-fixdate with a leap second', 'Sun, 06 Nov 1994 08:49:60 GMT', NOW, 143_000],
    ['RFC 850 date', 'Sunday, 06-Nov-94 08:49:37 GMT', NOW, 120_000],
    ['asctime date', 'Sun Nov  6 08:49:37 1994', NOW, 120_000],
    ['asctime date with a two-digit day', 'Sun Nov 16 08:49:37 1994', NOW, 10 * 86_400_000 + 120_000],
    ['negative delta-seconds', '-5', NOW, undefined],
    ['fractional delta-seconds', '1.5', NOW, undefined],
    ['delta-seconds with a unit', '10s', NOW, undefined],
    ['hex', '0x10', NOW, undefined],
    ['exponent', '1e3', NOW, undefined],
    ['words', 'soon', NOW, undefined],
    ['a date without GMT', 'Sun, 06 Nov 1994 08:49:37', NOW, undefined],
    ['a date in another zone', 'Sun, 06 Nov 1994 08:49:37 PST', NOW, undefined],
    ['an ISO 8601 date', '1994-11-06T08:49:37Z', NOW, undefined],
    ['February 30th', 'Wed, 30 Feb 2022 00:00:00 GMT', NOW, undefined],
    ['February 29th of a common year', 'Tue, 29 Feb 2022 00:00:00 GMT', NOW, undefined],
    ['hour 24', 'Sun, 06 Nov 1994 24:00:00 GMT', NOW, undefined],
    ['minute 60', 'Sun, 06 Nov 1994 08:60:00 GMT', NOW, undefined],
    ['an unknown month', 'Sun, 06 Foo 1994 08:49:37 GMT', NOW, undefined],
    ['a short weekday in an RFC 850 date', 'Sun, 06-Nov-94 08:49:37 GMT', NOW, undefined],
    ['a one-digit IMF-fixdate day', 'Sun, 6 Nov 1994 08:49:37 GMT', NOW, undefined],
  ];
  for (const [name, value, now, expected] of cases) {
    it(`reads ${name} as ${expected === undefined ? 'undefined' : `${expected} ms`}`, () => {
      assert.equal(parseRetryAfter(value, now), expected);
    });
  }

  it('reads an RFC 850 year more than 50 years ahead as last century', () => {
    const now = Date.UTC(2025, 0, 1);
    // "80" would be 2080, over 50 years after 2025, so it means 1980: long past.
    assert.equal(parseRetryAfter('Tuesday, 01-Jan-80 00:00:00 GMT', now), 0);
    // "30" is 2030, within 50 years.
    assert.equal(parseRetryAfter('Tuesday, 01-Jan-30 00:00:00 GMT', now), Date.UTC(2030, 0, 1) - now);
  });

  it('reads a four-digit year below 100 literally, not as 19xx', () => {
    assert.equal(parseRetryAfter('Mon, 01 Jan 0050 00:00:00 GMT', NOW), 0);
  });
});

describe('clampRetryAfterMs', () => {
  const cases: [string, number, number, number][] = [
    ['keeps a delay inside the bounds', 30_000, 3_600_000, 30_000],
    ['raises zero to one second', 0, 3_600_000, 1_000],
    ['raises a negative delay to one second', -10, 3_600_000, 1_000],
    ['lowers a delay above the maximum interval', 7_200_000, 3_600_000, 3_600_000],
    ['lowers infinity to the maximum interval', Infinity, 3_600_000, 3_600_000],
    ['treats NaN as the one-second floor', NaN, 3_600_000, 1_000],
    ['lets a sub-second maximum interval win over the floor', 5_000, 500, 500],
  ];
  for (const [name, value, maximum, expected] of cases) {
    it(name, () => assert.equal(clampRetryAfterMs(value, maximum), expected));
  }
});
