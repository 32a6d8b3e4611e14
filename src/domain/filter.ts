import { RE2JS } from 're2js';
import { ValidationError } from './errors';
import type { EventEnvelope } from './event';

/**
 * Mongo-style content filters over the event envelope.
 *
 * A filter is a JSON object. Keys are dotted paths into the envelope (`type`, `tenant`, `data.order.total`,
 * `data.items.0.sku`) or the logical operators `$and`, `$or`, `$not`. Several keys in one object are ANDed. A
 * path's value is either a literal (implicit `$eq`) or an object of operators, ANDed:
 * `{"data.total": {"$gt": 100, "$lte": 500}}`.
 *
 * Semantics, MongoDB's unless noted:
 * - **Paths.** Segments are own properties only (never `constructor` or `__proto__` from the prototype). A
 *   numeric segment on an array is an index; on an object it is a key. A non-numeric segment on an array
 *   applies to every element that is an object, so `data.items.sku` reaches the sku of every item, and the
 *   field matches when any of them does.
 * - **Arrays.** A field holding an array matches `$eq`, `$in`, the comparisons and `$regex` when the whole array
 *   matches or any element does: `{"data.tags": "vip"}` matches `["new", "vip"]`, and `{"data.tags": ["new",
 *   "vip"]}` matches that array exactly. `$ne` and `$nin` are the negations, so they match only when no element
 *   matches.
 * - **Missing fields.** `$exists: false` matches; `$ne` and `$nin` match; the comparisons and `$regex` do not.
 *   As in MongoDB, `null` stands for "null or missing": `{"data.coupon": null}` matches an absent coupon, and
 *   `{"data.coupon": {"$ne": null}}` means "present and not null".
 * - **Equality** is deep over JSON: arrays are equal element by element in order; objects are equal when they
 *   have the same keys and equal values, in any key order (unlike MongoDB, which compares embedded documents
 *   in key order: JSON producers reorder keys freely).
 * - **Comparisons** (`$gt $gte $lt $lte`) hold only between two numbers, two strings (UTF-16 code-unit order, so
 *   ISO-8601 timestamps in one format compare chronologically) or two booleans (`false < true`). Across types
 *   they are false; nothing is coerced. With a `null` operand, `$gte`/`$lte` act as `$eq: null` and `$gt`/`$lt`
 *   never match.
 * - **`$regex`** takes a string pattern in RE2 syntax and matches string values anywhere in the string (anchor
 *   with `^`/`$`). `$options` may hold `i` (case-insensitive), `m` (`^`/`$` at line breaks) and `s` (`.` matches
 *   `\n`). RE2 matches in linear time, so no pattern can hang the consumer; patterns RE2 cannot run
 *   (backreferences, lookaround) are rejected when the filter is compiled.
 * - **`$not`** at field level takes an operator object (`{"data.total": {"$not": {"$gt": 5}}}`) and matches a
 *   missing field. At top level (an extension: MongoDB has `$nor` instead) it takes a whole filter.
 *   `$and` and `$or` take a non-empty array of filters.
 */

/** A filter validated and compiled once, to run against many events. */
export interface CompiledFilter {
  /** Whether the envelope passes the filter. Pure and total: it never throws for any envelope. */
  matches(envelope: EventEnvelope): boolean;
}

/** Size bounds applied by {@link compileFilter}, so one endpoint's filter cannot make routing expensive. */
export const FILTER_LIMITS = {
  /** Deepest nesting of objects and arrays in the filter document, the top object being 1. */
  maxDepth: 16,
  /** Most JSON values in the filter document: every object, array, key's value and array element counts. */
  maxNodes: 256,
  /** Longest `$regex` pattern, in UTF-16 code units. */
  maxRegexLength: 512,
} as const;

/**
 * Validates a whole filter and compiles it. Regular expressions are compiled here, once.
 *
 * @throws ValidationError naming the offending path, e.g. `filter.data.total.$gt: expected a number, string,
 *   boolean or null` or `filter.$foo: unknown operator`.
 */
export function compileFilter(filter: unknown): CompiledFilter {
  checkSize(filter);
  const predicate = new FilterCompiler().compileDocument(filter, 'filter');
  return { matches: (envelope) => predicate(envelope) };
}

/** Compiles and runs a filter in one go; prefer {@link compileFilter} when the filter is used more than once. */
export function matchesFilter(filter: unknown, envelope: EventEnvelope): boolean {
  return compileFilter(filter).matches(envelope);
}

type Predicate = (root: unknown) => boolean;
/** Tests the values a path resolved to; an empty list means the field is missing. */
type FieldTest = (values: readonly unknown[]) => boolean;

const FIELD_OPERATORS = new Set([
  '$eq',
  '$ne',
  '$gt',
  '$gte',
  '$lt',
  '$lte',
  '$in',
  '$nin',
  '$exists',
  '$regex',
  '$options',
  '$not',
]);
const NUMERIC_SEGMENT = /^(0|[1-9][0-9]*)$/;
const REGEX_OPTIONS: Readonly<Record<string, number>> = {
  i: RE2JS.CASE_INSENSITIVE,
  m: RE2JS.MULTILINE,
  s: RE2JS.DOTALL,
};

function fail(path: string, problem: string): never {
  throw new ValidationError(`${path}: ${problem}`, path);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function hasOwn(object: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(object, key);
}

/**
 * Checks the size bounds and that the document is plain JSON before compiling, so compilation can recurse
 * freely: a cyclic or very deep object is stopped here by the depth bound.
 */
function checkSize(filter: unknown): void {
  let nodes = 0;
  const visit = (value: unknown, path: string, depth: number): void => {
    nodes += 1;
    if (nodes > FILTER_LIMITS.maxNodes) fail(path, `filter has more than ${FILTER_LIMITS.maxNodes} nodes`);
    if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) fail(path, 'expected a finite number');
      return;
    }
    if (Array.isArray(value) || isPlainObject(value)) {
      if (depth > FILTER_LIMITS.maxDepth) fail(path, `filter is nested deeper than ${FILTER_LIMITS.maxDepth}`);
      if (Array.isArray(value)) value.forEach((item, i) => visit(item, `${path}.${i}`, depth + 1));
      else for (const [key, item] of Object.entries(value)) visit(item, `${path}.${key}`, depth + 1);
      return;
    }
    fail(path, 'not a JSON value');
  };
  visit(filter, 'filter', 1);
}

class FilterCompiler {
  /** Identical patterns in one filter share a compiled regex. */
  private readonly regexes = new Map<string, RE2JS>();

  compileDocument(doc: unknown, path: string): Predicate {
    if (!isPlainObject(doc)) fail(path, 'expected a filter object');
    const parts: Predicate[] = [];
    for (const [key, value] of Object.entries(doc)) {
      const keyPath = `${path}.${key}`;
      if (key.startsWith('$')) parts.push(this.compileLogical(key, value, keyPath));
      else parts.push(this.compileField(key, value, keyPath));
    }
    return all(parts);
  }

  private compileLogical(operator: string, operand: unknown, path: string): Predicate {
    switch (operator) {
      case '$and':
      case '$or': {
        if (!Array.isArray(operand) || operand.length === 0) fail(path, 'expected a non-empty array of filters');
        const parts = operand.map((item, i) => this.compileDocument(item, `${path}.${i}`));
        return operator === '$and' ? all(parts) : (root) => parts.some((part) => part(root));
      }
      case '$not': {
        const inner = this.compileDocument(operand, path);
        return (root) => !inner(root);
      }
      default:
        return fail(path, FIELD_OPERATORS.has(operator) ? 'operator is only allowed on a field' : 'unknown operator');
    }
  }

  private compileField(field: string, condition: unknown, path: string): Predicate {
    const segments = field.split('.');
    if (segments.some((segment) => segment.length === 0)) fail(path, 'empty segment in field path');
    const test = this.compileCondition(condition, path);
    return (root) => test(resolvePath(root, segments));
  }

  /** A literal (implicit `$eq`) or an operator object. */
  private compileCondition(condition: unknown, path: string): FieldTest {
    if (!isPlainObject(condition)) return equalsTest(condition);
    const keys = Object.keys(condition);
    const operatorCount = keys.filter((key) => key.startsWith('$')).length;
    if (operatorCount === 0) return equalsTest(condition);
    if (operatorCount !== keys.length) fail(path, 'cannot mix operators and literal fields in one object');
    return this.compileOperators(condition, path);
  }

  private compileOperators(operators: Record<string, unknown>, path: string): FieldTest {
    if (Object.keys(operators).length === 0) fail(path, 'expected at least one operator');
    if (hasOwn(operators, '$options') && !hasOwn(operators, '$regex')) fail(`${path}.$options`, 'requires $regex');
    const tests: FieldTest[] = [];
    for (const [operator, operand] of Object.entries(operators)) {
      const opPath = `${path}.${operator}`;
      switch (operator) {
        case '$eq':
          tests.push(equalsTest(operand));
          break;
        case '$ne': {
          const eq = equalsTest(operand);
          tests.push((values) => !eq(values));
          break;
        }
        case '$gt':
        case '$gte':
        case '$lt':
        case '$lte':
          tests.push(comparisonTest(operator, operand, opPath));
          break;
        case '$in':
        case '$nin': {
          if (!Array.isArray(operand)) fail(opPath, 'expected an array');
          const within = inTest(operand);
          tests.push(operator === '$in' ? within : (values) => !within(values));
          break;
        }
        case '$exists': {
          if (typeof operand !== 'boolean') fail(opPath, 'expected true or false');
          tests.push((values) => values.length > 0 === operand);
          break;
        }
        case '$regex':
          tests.push(this.regexTest(operand, operators['$options'], path));
          break;
        case '$options':
          break;
        case '$not': {
          if (!isPlainObject(operand) || !Object.keys(operand).every((key) => key.startsWith('$'))) {
            fail(opPath, 'expected an object of operators');
          }
          const inner = this.compileOperators(operand, opPath);
          tests.push((values) => !inner(values));
          break;
        }
        default:
          fail(
            opPath,
            operator === '$and' || operator === '$or' ? 'operator is only allowed at top level' : 'unknown operator',
          );
      }
    }
    return tests.length === 1 && tests[0] !== undefined ? tests[0] : (values) => tests.every((test) => test(values));
  }

  private regexTest(pattern: unknown, options: unknown, path: string): FieldTest {
    if (typeof pattern !== 'string') fail(`${path}.$regex`, 'expected a string pattern');
    if (pattern.length > FILTER_LIMITS.maxRegexLength) {
      fail(`${path}.$regex`, `pattern longer than ${FILTER_LIMITS.maxRegexLength} characters`);
    }
    let flags = 0;
    if (options !== undefined) {
      if (typeof options !== 'string') fail(`${path}.$options`, 'expected a string of the letters i, m, s');
      for (const letter of options) {
        const flag = REGEX_OPTIONS[letter];
        if (flag === undefined) fail(`${path}.$options`, `unsupported option "${letter}" (allowed: i, m, s)`);
        flags |= flag;
      }
    }
    const key = `${flags}/${pattern}`;
    let regex = this.regexes.get(key);
    if (regex === undefined) {
      try {
        regex = RE2JS.compile(pattern, flags);
      } catch (err) {
        // RE2's message names the construct ("invalid escape sequence: `\1`"), which is what the author needs.
        const detail = err instanceof Error ? err.message : 'cannot be compiled';
        fail(`${path}.$regex`, `unsupported pattern: ${detail}`);
      }
      this.regexes.set(key, regex);
    }
    const compiled = regex;
    return (values) => someCandidate(values, (value) => typeof value === 'string' && compiled.test(value));
  }
}

function all(parts: readonly Predicate[]): Predicate {
  const [only] = parts;
  if (parts.length === 1 && only !== undefined) return only;
  return (root) => parts.every((part) => part(root));
}

/**
 * Every value the path reaches. Several when a non-numeric segment meets an array (each object element is
 * followed); none when the field is missing.
 */
function resolvePath(root: unknown, segments: readonly string[]): unknown[] {
  let current: unknown[] = [root];
  for (const segment of segments) {
    const next: unknown[] = [];
    for (const value of current) {
      if (Array.isArray(value)) {
        if (NUMERIC_SEGMENT.test(segment)) {
          const index = Number(segment);
          if (index < value.length) next.push(value[index]);
        } else {
          for (const element of value) {
            if (isObjectRecord(element) && hasOwn(element, segment)) next.push(element[segment]);
          }
        }
      } else if (isObjectRecord(value) && hasOwn(value, segment)) {
        next.push(value[segment]);
      }
    }
    if (next.length === 0) return next;
    current = next;
  }
  // `undefined` is not JSON; treating it as absent keeps a hand-built envelope consistent with a parsed one.
  return current.filter((value) => value !== undefined);
}

function isObjectRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** True when some value, or some element of an array value, satisfies `test`. */
function someCandidate(values: readonly unknown[], test: (value: unknown) => boolean): boolean {
  for (const value of values) {
    if (test(value)) return true;
    if (Array.isArray(value) && value.some(test)) return true;
  }
  return false;
}

function equalsTest(operand: unknown): FieldTest {
  if (operand === null) return (values) => values.length === 0 || someCandidate(values, (value) => value === null);
  return (values) => someCandidate(values, (value) => deepEqual(value, operand));
}

function inTest(operands: readonly unknown[]): FieldTest {
  const tests = operands.map(equalsTest);
  return (values) => tests.some((test) => test(values));
}

function comparisonTest(operator: '$gt' | '$gte' | '$lt' | '$lte', operand: unknown, path: string): FieldTest {
  if (operand === null) {
    return operator === '$gte' || operator === '$lte' ? equalsTest(null) : () => false;
  }
  if (typeof operand !== 'number' && typeof operand !== 'string' && typeof operand !== 'boolean') {
    fail(path, 'expected a number, string, boolean or null');
  }
  const holds = (value: unknown): boolean => {
    if (typeof value !== typeof operand) return false;
    const v = value as typeof operand;
    switch (operator) {
      case '$gt':
        return v > operand;
      case '$gte':
        return v >= operand;
      case '$lt':
        return v < operand;
      case '$lte':
        return v <= operand;
      default: {
        const unreachable: never = operator;
        return unreachable;
      }
    }
  };
  return (values) => someCandidate(values, holds);
}

/** Structural equality over JSON values; object key order does not matter. */
function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => deepEqual(item, b[i]));
  }
  const aRecord = a as Record<string, unknown>;
  const bRecord = b as Record<string, unknown>;
  const aKeys = Object.keys(aRecord);
  if (aKeys.length !== Object.keys(bRecord).length) return false;
  return aKeys.every((key) => hasOwn(bRecord, key) && deepEqual(aRecord[key], bRecord[key]));
}
