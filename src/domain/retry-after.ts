/**
 * `Retry-After` parsing (RFC 9110 §10.2.3). Pure: the clock is a parameter, and dates are read with a strict
 * grammar and `Date.UTC` rather than `Date.parse`, whose leniency differs between engines.
 */

/** The shortest wait we honour: a receiver saying "retry after 0" must not turn into a tight loop. */
export const MIN_RETRY_AFTER_MS = 1_000;

const DELTA_SECONDS = /^\d+$/;

const MONTHS: Readonly<Record<string, number>> = {
  jan: 0,
  feb: 1,
  mar: 2,
  apr: 3,
  may: 4,
  jun: 5,
  jul: 6,
  aug: 7,
  sep: 8,
  oct: 9,
  nov: 10,
  dec: 11,
};

const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const DAY_LONG = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)';
const MONTH = '(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';

/** `Sun, 06 Nov 1994 08:49:37 GMT`: the only form senders may generate. */
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`, 'i');
/** `Sunday, 06-Nov-94 08:49:37 GMT`: obsolete, but recipients must still accept it. */
const RFC850_DATE = new RegExp(`^${DAY_LONG}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`, 'i');
/** `Sun Nov  6 08:49:37 1994`: obsolete C asctime() form; the day is space-padded. */
const ASCTIME_DATE = new RegExp(`^${DAY} ${MONTH} ([ \\d]\\d) ${TIME} (\\d{4})$`, 'i');

/**
 * Reads a `Retry-After` header as a delay from `nowMs`.
 *
 * @param value the header value; surrounding whitespace is ignored.
 * @param nowMs the current time in epoch ms, passed in so the function stays deterministic.
 * @returns the delay in ms: from delta-seconds, or until an HTTP-date (0 when the date is already past);
 *   undefined when the header is absent or not one of the RFC 9110 forms. Not clamped: see
 *   {@link clampRetryAfterMs}.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;

  if (DELTA_SECONDS.test(trimmed)) {
    // Absurdly long digit strings are still "a very long time", not garbage; the caller clamps.
    return Math.min(Number(trimmed) * 1000, Number.MAX_SAFE_INTEGER);
  }

  const dateMs = parseHttpDate(trimmed, nowMs);
  if (dateMs === undefined) return undefined;
  return Math.max(0, dateMs - nowMs);
}

/**
 * Bounds a receiver-requested delay to [{@link MIN_RETRY_AFTER_MS}, `maximumIntervalMs`]. When the operator's
 * maximum is below one second, the maximum wins: it is an explicit limit, the floor is only a guard.
 */
export function clampRetryAfterMs(retryAfterMs: number, maximumIntervalMs: number): number {
  const requested = Number.isNaN(retryAfterMs) ? MIN_RETRY_AFTER_MS : retryAfterMs;
  return Math.min(Math.max(requested, MIN_RETRY_AFTER_MS), maximumIntervalMs);
}

/** Epoch ms of an HTTP-date in any of the three RFC 9110 forms, or undefined. */
function parseHttpDate(text: string, nowMs: number): number | undefined {
  let match = IMF_FIXDATE.exec(text);
  if (match) return toEpochMs(Number(match[3]), match[2], Number(match[1]), match[4], match[5], match[6]);

  match = RFC850_DATE.exec(text);
  if (match) {
    return toEpochMs(
      expandTwoDigitYear(Number(match[3]), nowMs),
      match[2],
      Number(match[1]),
      match[4],
      match[5],
      match[6],
    );
  }

  match = ASCTIME_DATE.exec(text);
  if (match) return toEpochMs(Number(match[6]), match[1], Number(match[2]), match[3], match[4], match[5]);

  return undefined;
}

/**
 * RFC 9110 §5.6.7: a two-digit year more than 50 years in the future is the most recent past year with the
 * same last two digits.
 */
function expandTwoDigitYear(twoDigits: number, nowMs: number): number {
  const currentYear = new Date(nowMs).getUTCFullYear();
  const century = Math.floor(currentYear / 100) * 100;
  const year = century + twoDigits;
  return year > currentYear + 50 ? year - 100 : year;
}

function toEpochMs(
  year: number,
  monthName: string | undefined,
  day: number,
  hour: string | undefined,
  minute: string | undefined,
  second: string | undefined,
): number | undefined {
  const month = monthName === undefined ? undefined : MONTHS[monthName.toLowerCase()];
  const h = Number(hour);
  const m = Number(minute);
  const s = Number(second);
  if (month === undefined || !Number.isInteger(year) || day < 1 || day > daysInMonth(year, month)) return undefined;
  // 60 is a leap second, which the grammar allows; it rolls into the next minute.
  if (h > 23 || m > 59 || s > 60) return undefined;
  return utc(year, month, day, h, m, s);
}

function daysInMonth(year: number, month: number): number {
  return new Date(utc(year, month + 1, 0)).getUTCDate();
}

/** `Date.UTC` without its mapping of years 0–99 to 1900–1999. */
function utc(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month, day);
  date.setUTCHours(hour, minute, second, 0);
  return date.getTime();
}
