import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  ERROR_CODES,
  InternalError,
  ValidationError,
  WssError,
  apiErrorCodes,
  apiErrorCodesByStatus,
  isApiErrorCode,
  errorCodesOn,
  isErrorCode,
  nonRetryableFailureTypes,
} from '../../src/domain/errors';
import { NON_RETRYABLE_ERROR_TYPES, DEFAULT_RETRY_POLICY, toTemporalRetryPolicy } from '../../src/domain/retry-policy';
import { REPO_ROOT, scanEmittedCodes } from '../support/error-code-scan';

const entries = Object.entries(ERROR_CODES);

describe('error registry', () => {
  it('gives every code a surface, a one-line description, and an HTTP status exactly when the API can answer it', () => {
    for (const [code, spec] of entries) {
      assert.match(code, /^[a-z][a-z0-9_]*$/, code);
      assert.ok(spec.surfaces.length > 0, code);
      assert.ok(spec.description.length > 0 && !spec.description.includes('\n'), code);
      const httpStatus = (spec as { httpStatus?: number }).httpStatus;
      assert.equal(httpStatus !== undefined, (spec.surfaces as readonly string[]).includes('api'), code);
      if (httpStatus !== undefined) assert.ok(httpStatus >= 400 && httpStatus <= 599, code);
    }
  });

  it('gives Temporal every non-retryable code that can reach it, and no retryable one', () => {
    const expected = entries
      .filter(([, spec]) => !spec.retryable && !spec.surfaces.every((s) => s === 'dead_letter'))
      .map(([code]) => code);
    assert.deepEqual([...NON_RETRYABLE_ERROR_TYPES].sort(), expected.sort());
    assert.deepEqual(toTemporalRetryPolicy(DEFAULT_RETRY_POLICY).nonRetryableErrorTypes, [
      ...NON_RETRYABLE_ERROR_TYPES,
    ]);
    for (const code of ['delivery_attempt_failed', 'transient_error', 'transform_busy', 'transform_unavailable']) {
      assert.ok(!NON_RETRYABLE_ERROR_TYPES.includes(code), code);
    }
    // The activity's final outcomes, and the permanent errors the build and sign steps throw.
    for (const code of [
      'retries_exhausted',
      'endpoint_gone',
      'delivery_permanent_failure',
      'destination_not_allowed',
      'unprocessable_event',
      'internal_error',
      'transform_failed',
      'invalid_request',
      'payload_unavailable',
      'payload_invalid',
      'secret_unavailable',
    ]) {
      assert.ok(NON_RETRYABLE_ERROR_TYPES.includes(code), code);
    }
    assert.deepEqual(nonRetryableFailureTypes(), [...NON_RETRYABLE_ERROR_TYPES]);
  });

  it('documents for the API every code it can answer, the ones the old list missed included', () => {
    const api = apiErrorCodes();
    assert.deepEqual(
      api.map((c) => c.code),
      errorCodesOn('api'),
    );
    for (const code of [
      'transform_failed',
      'secret_unavailable',
      'transform_busy',
      'route_not_found',
      'internal_error',
    ]) {
      assert.ok(
        api.some((c) => c.code === code),
        code,
      );
    }
    assert.deepEqual(
      api.find((c) => c.code === 'method_not_allowed'),
      { code: 'method_not_allowed', httpStatus: 405, description: ERROR_CODES.method_not_allowed.description },
    );
  });

  it('groups the API codes by status for OpenAPI, and tells API codes from the rest', () => {
    const byStatus = apiErrorCodesByStatus();
    assert.deepEqual([...byStatus.keys()], [400, 401, 404, 405, 409, 413, 415, 422, 431, 500, 503]);
    assert.deepEqual(byStatus.get(404), ['not_found', 'route_not_found']);
    assert.deepEqual(byStatus.get(503), [
      'transform_busy',
      'transform_unavailable',
      'temporal_unavailable',
      'replication_not_confirmed',
    ]);
    assert.equal([...byStatus.values()].flat().length, apiErrorCodes().length);
    assert.equal(isApiErrorCode('conflict'), true);
    assert.equal(isApiErrorCode('payload_unavailable'), false);
    assert.equal(isApiErrorCode('too_deep'), false);
    assert.equal(isApiErrorCode('toString'), false);
  });

  it('reads permanence and HTTP status from the registry, and chains causes', () => {
    const cause = new RangeError('boom');
    const err = new ValidationError('x: bad', 'x', { cause });
    assert.equal(err.httpStatus, 400);
    assert.equal(err.permanent, true);
    assert.equal(err.cause, cause);
    assert.equal(err.name, 'ValidationError');
    assert.equal(new InternalError('bug').httpStatus, 500);
    assert.ok(new InternalError('bug') instanceof WssError);
    assert.equal(isErrorCode('transform_failed'), true);
    assert.equal(isErrorCode('endpoint_rejected'), false);
  });
});

describe('codes emitted by the source', () => {
  const scanned = scanEmittedCodes();

  it('finds every kind of site (the scan is not vacuous)', () => {
    const kinds = new Set(scanned.map((s) => s.kind));
    for (const kind of ['error_class', 'temporal_failure_type', 'api_error_body', 'dead_letter_reason']) {
      assert.ok(kinds.has(kind as never), `no ${kind} site found`);
    }
    const codes = new Set(scanned.flatMap((s) => s.codes));
    for (const code of ['transform_failed', 'transform_busy', 'payload_unavailable', 'route_not_found', 'too_deep']) {
      assert.ok(codes.has(code), code);
    }
  });

  it('emits only registered codes, each site typed as a set of literal codes', () => {
    const problems = scanned.flatMap((site) =>
      site.codes.length === 0
        ? [`${site.where} (${site.kind}): type ${site.type} is not a set of literal codes; type it as ErrorCode`]
        : site.codes.filter((code) => !isErrorCode(code)).map((code) => `${site.where} (${site.kind}): ${code}`),
    );
    assert.deepEqual(problems, []);
  });

  it('writes only dead-letter codes as wss_reason_code', () => {
    const deadLetter = new Set<string>(errorCodesOn('dead_letter'));
    for (const site of scanned.filter((s) => s.kind === 'dead_letter_reason')) {
      for (const code of site.codes) assert.ok(deadLetter.has(code), `${site.where}: ${code}`);
    }
  });

  it('fails on an unregistered code at every kind of site', () => {
    const fixture = path.join(REPO_ROOT, 'src', 'bogus-fixture.ts');
    const found = scanEmittedCodes({
      [fixture]: `
        import { ApplicationFailure } from '@temporalio/common';
        import { ValidationError, WssError } from './domain/errors';
        export class BogusError extends WssError { readonly code = 'bogus_class'; }
        export class SubValidationError extends ValidationError {}
        export function fail(untyped: string): never {
          if (untyped === 'a') throw ApplicationFailure.create({ type: 'bogus_create', nonRetryable: true });
          if (untyped === 'b') throw ApplicationFailure.nonRetryable('m', 'bogus_non_retryable');
          if (untyped === 'c') throw ApplicationFailure.retryable('m', 'validation_failed');
          throw ApplicationFailure.create({ type: untyped });
        }
        export const answer = { status: 418, body: { error: { code: 'bogus_api', message: 'm' } } };
        export const xadd = (...args: string[]) => args;
        xadd('wss:events:dead', '*', 'wss_reason', 'r', 'wss_reason_code', 'bogus_dead_letter');
      `,
    }).filter((site) => site.where.startsWith('src/bogus-fixture.ts'));
    const codes = (kind: string) => found.filter((s) => s.kind === kind).flatMap((s) => s.codes);
    assert.deepEqual(codes('error_class').sort(), ['bogus_class', 'validation_failed']);
    assert.deepEqual(codes('temporal_failure_type').sort(), [
      'bogus_create',
      'bogus_non_retryable',
      'validation_failed',
    ]);
    assert.deepEqual(codes('api_error_body'), ['bogus_api']);
    assert.deepEqual(codes('dead_letter_reason'), ['bogus_dead_letter']);
    const unregistered = found.flatMap((s) => s.codes).filter((code) => !isErrorCode(code));
    assert.deepEqual(unregistered.sort(), [
      'bogus_api',
      'bogus_class',
      'bogus_create',
      'bogus_dead_letter',
      'bogus_non_retryable',
    ]);
    // A failure type typed `string` cannot be checked, so it is reported as a site without literal codes.
    assert.ok(found.some((s) => s.kind === 'temporal_failure_type' && s.codes.length === 0 && s.type === 'string'));
  });
});
