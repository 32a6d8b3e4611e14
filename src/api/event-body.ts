import type { FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { SyntaxKind, createScanner } from 'jsonc-parser';
import { ValidationError } from '../domain/errors';
import { jsonNestingDepth } from '../domain/json-text';
import { MAX_REQUEST_BODY_DEPTH, parseJsonText, validate } from './request-body';
import { publishEventSchema } from './schemas';
import type { PublishEventBody } from './schemas';

/** A member of the top-level JSON object: its decoded name and where its value's source text lies. */
export interface TopLevelMember {
  readonly name: string;
  readonly offset: number;
  readonly length: number;
}

/**
 * The members of a JSON text's top-level object, with the source range of each value, in order (duplicates
 * included). Undefined when the top level is not an object, or the text is not well-formed.
 *
 * Uses jsonc-parser's scanner, which tokenises without recursing, so a value nested a million levels deep costs
 * one pass and no stack. The scanner is lenient (comments, trailing commas); callers validate with `JSON.parse`
 * first, so only strict JSON reaches it.
 */
export function topLevelMembers(text: string): TopLevelMember[] | undefined {
  const scanner = createScanner(text, true);
  if (scanner.scan() !== SyntaxKind.OpenBraceToken) return undefined;
  const members: TopLevelMember[] = [];
  let state: 'name' | 'colon' | 'value' | 'after' = 'name';
  let name = '';
  let start = 0;
  let depth = 0; // inside the current member's value
  for (let token = scanner.scan(); token !== SyntaxKind.EOF; token = scanner.scan()) {
    const offset = scanner.getTokenOffset();
    const end = offset + scanner.getTokenLength();
    if (depth > 0) {
      if (token === SyntaxKind.OpenBraceToken || token === SyntaxKind.OpenBracketToken) depth++;
      else if (token === SyntaxKind.CloseBraceToken || token === SyntaxKind.CloseBracketToken) {
        depth--;
        if (depth === 0) {
          members.push({ name, offset: start, length: end - start });
          state = 'after';
        }
      }
      continue;
    }
    switch (state) {
      case 'name':
        if (token === SyntaxKind.CloseBraceToken && members.length === 0) return members;
        if (token !== SyntaxKind.StringLiteral) return undefined;
        name = scanner.getTokenValue();
        state = 'colon';
        break;
      case 'colon':
        if (token !== SyntaxKind.ColonToken) return undefined;
        state = 'value';
        break;
      case 'value':
        start = offset;
        if (token === SyntaxKind.OpenBraceToken || token === SyntaxKind.OpenBracketToken) depth = 1;
        else if (isScalar(token)) {
          members.push({ name, offset, length: end - offset });
          state = 'after';
        } else return undefined;
        break;
      case 'after':
        if (token === SyntaxKind.CommaToken) state = 'name';
        else if (token === SyntaxKind.CloseBraceToken) return members;
        else return undefined;
        break;
    }
  }
  return undefined;
}

function isScalar(token: SyntaxKind): boolean {
  return (
    token === SyntaxKind.StringLiteral ||
    token === SyntaxKind.NumericLiteral ||
    token === SyntaxKind.TrueKeyword ||
    token === SyntaxKind.FalseKeyword ||
    token === SyntaxKind.NullKeyword
  );
}

/** A validated publish (or dry-run) body and the exact source text of its `data`. */
export interface EventBody {
  readonly body: PublishEventBody;
  /** The `data` member exactly as the caller wrote it: the bytes that go into the stream. */
  readonly dataJson: string;
}

/**
 * Parses `{"type", "data", "id"?}` so that `data` keeps the caller's bytes: its source text is cut out of the
 * body rather than re-serialised from the parsed value (which would round integers above 2^53, turn `1.0` into
 * `1`, and drop escapes and spacing). The body is still strict JSON, checked by `JSON.parse`, and still validated
 * by the schema.
 *
 * Refused with `validation_failed`: `data` nested more than `maxDataDepth` levels deep (field `data`, checked on
 * the text before anything recurses over it), any other member nested deeper than the API's body limit, and a
 * member given twice (`JSON.parse` would silently keep the last one).
 */
export function parseEventBody(
  text: string,
  limits: { readonly maxDataDepth: number },
  schema: z.ZodType<PublishEventBody> = publishEventSchema,
): EventBody {
  // A bounded scan first: a hostile body nested 500,000 levels deep is refused in microseconds, before
  // JSON.parse spends a third of a second building it.
  const bound = Math.max(limits.maxDataDepth + 1, MAX_REQUEST_BODY_DEPTH);
  if (jsonNestingDepth(text, bound) > bound) {
    checkMembers(text, topLevelMembers(text) ?? [], limits);
    throw new ValidationError(`request body is nested more than ${bound} levels deep`);
  }
  const parsed = parseJsonText(text);
  const members = topLevelMembers(text);
  if (members === undefined) {
    validate(schema, parsed); // names what is wrong with a body that is not an object
    throw new ValidationError('request body must be a JSON object');
  }
  const dataJson = checkMembers(text, members, limits);
  const body = validate(schema, parsed);
  if (dataJson === undefined) throw new ValidationError('data: is required', 'data');
  return { body, dataJson };
}

/** Refuses a member given twice or nested too deeply; returns the source text of `data`, if there is one. */
function checkMembers(
  text: string,
  members: readonly TopLevelMember[],
  limits: { readonly maxDataDepth: number },
): string | undefined {
  const seen = new Set<string>();
  let dataJson: string | undefined;
  for (const member of members) {
    const shown = member.name.slice(0, 64);
    if (seen.has(member.name)) throw new ValidationError(`${shown}: is given twice`, shown);
    seen.add(member.name);
    const source = text.slice(member.offset, member.offset + member.length);
    const limit = member.name === 'data' ? limits.maxDataDepth : MAX_REQUEST_BODY_DEPTH - 1;
    if (jsonNestingDepth(source, limit) > limit) {
      throw new ValidationError(`${shown}: is nested more than ${limit} levels deep`, shown);
    }
    if (member.name === 'data') dataJson = source;
  }
  return dataJson;
}

/**
 * Route options for the routes that take an event (publish, dry run): the body arrives as its text, and
 * {@link parseEventBody} cuts the source of `data` out of it before the schema sees the parsed rest, so the
 * producer's bytes are never re-serialised. `dataJson(req)` is that source.
 */
export function eventBodyRoute(maxDataDepth: number, schema: z.ZodType<PublishEventBody> = publishEventSchema) {
  const sources = new WeakMap<FastifyRequest, string>();
  return {
    config: { rawBody: true },
    preValidation: async (req: FastifyRequest) => {
      const { body, dataJson } = parseEventBody(typeof req.body === 'string' ? req.body : '', { maxDataDepth }, schema);
      sources.set(req, dataJson);
      req.body = body;
    },
    dataJson: (req: FastifyRequest): string => sources.get(req) ?? '',
  };
}
