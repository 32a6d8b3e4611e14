import { ValidationError } from './errors';

/** `order.created`, `invoice.payment_failed`: dot-separated segments of letters, digits, `_` and `-`. */
export const EVENT_TYPE_PATTERN = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
export const MAX_EVENT_TYPE_LENGTH = 128;

export function isValidEventType(type: string): boolean {
  return type.length <= MAX_EVENT_TYPE_LENGTH && EVENT_TYPE_PATTERN.test(type);
}

/**
 * Validates one subscription pattern: an exact type, `prefix.*` (any type below `prefix.`, at any depth), or
 * `*` (everything). Throws {@link ValidationError} naming `field`.
 */
export function assertEventTypePattern(pattern: string, field: string): string {
  if (pattern === '*') return pattern;
  const base = pattern.endsWith('.*') ? pattern.slice(0, -2) : pattern;
  if (!isValidEventType(base) || pattern.length > MAX_EVENT_TYPE_LENGTH) {
    throw new ValidationError(
      `${field}: "${pattern.slice(0, 140)}" is not an event type pattern (expected "a.b", "a.*" or "*")`,
      field,
    );
  }
  return pattern;
}

/** Whether `type` is covered by any of `patterns`. */
export function matchesEventType(patterns: readonly string[], type: string): boolean {
  for (const pattern of patterns) {
    if (pattern === '*' || pattern === type) return true;
    if (pattern.endsWith('.*') && type.startsWith(pattern.slice(0, -1))) return true;
  }
  return false;
}
