import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import vm from 'node:vm';
import { describe, it } from 'node:test';
import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import { DefaultLogger } from '@temporalio/worker';
import { createLogger } from '../../src/infra/logger';
import { temporalLogFunction } from '../../src/infra/temporal-log';

const CARD = '4111111111111111';

function capture(level: 'WARN' | 'INFO' = 'WARN') {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const logger = new DefaultLogger(level, temporalLogFunction(createLogger('info', {}, sink)));
  return { logger, lines };
}

/** What the SDK's worker attaches to "Activity failed". */
const activityAttributes = {
  sdkComponent: 'worker',
  isLocal: false,
  attempt: 3,
  namespace: 'default',
  taskToken: 'CiQwZjE3ZTJmYi1hYmNkLTRmMDAtOGQ2Ny0xMjM0NTY3ODkwYWISA2V4YQ==',
  activityId: '1',
  activityType: 'deliverWebhook',
  taskQueue: 'q',
  workflowId: 'delivery:acme:evt_1',
  workflowRunId: 'run-1',
  workflowType: 'deliverEvent',
};

describe("the Temporal SDK's log entries", () => {
  it('are one JSON line each, without the task token, the stack or an application failure message', () => {
    const { logger, lines } = capture();
    const error = ApplicationFailure.create({
      type: 'delivery_attempt_failed',
      message: `HTTP 400 (http_400): {"card":"${CARD}"}\nsecond line`,
      nonRetryable: false,
    });

    logger.warn('Activity failed', { ...activityAttributes, error, durationMs: 12 });

    assert.equal(lines.length, 1);
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(entry['level'], 'warn');
    assert.equal(entry['msg'], 'Activity failed');
    assert.equal(entry['workflowId'], 'delivery:acme:evt_1');
    assert.equal(entry['attempt'], 3);
    assert.equal(entry['durationMs'], 12);
    assert.equal(entry['taskToken'], undefined);
    assert.deepEqual(entry['error'], {
      name: 'ApplicationFailure',
      type: 'delivery_attempt_failed',
      nonRetryable: false,
    });
    assert.ok(!lines[0]!.includes(CARD) && !lines[0]!.includes(' at '), lines[0]);
  });

  it('keep the failure type of the cause and drop messages of wrapped and built-in errors', () => {
    const { logger, lines } = capture();
    const cause = ApplicationFailure.nonRetryable(`card ${CARD}`, 'retries_exhausted');
    const wrapped = new ActivityFailure(
      'Activity task failed',
      'deliverWebhook',
      '1',
      RetryState.NON_RETRYABLE_FAILURE,
      'id',
      cause,
    );
    logger.warn('Workflow failed', { sdkComponent: 'workflow', error: wrapped });
    logger.error('Worker failed', { error: new SyntaxError(`Unexpected token in "${CARD}"`) });

    const [first, second] = lines.map((l) => JSON.parse(l) as Record<string, Record<string, unknown>>);
    assert.deepEqual(first?.['error'], { name: 'ActivityFailure', causeType: 'retries_exhausted' });
    assert.deepEqual(second?.['error'], { name: 'SyntaxError' });
    assert.ok(
      lines.every((l) => !l.includes(CARD)),
      lines.join('\n'),
    );
  });

  it('summarise an error from the workflow sandbox, another realm, the same way', () => {
    const { logger, lines } = capture();
    const foreign = vm.runInNewContext(`(() => { const e = new TypeError('bad ${CARD}'); return e; })()`) as Error;
    assert.ok(!(foreign instanceof Error));

    logger.warn('Workflow failed', { error: foreign });

    assert.deepEqual((JSON.parse(lines[0]!) as Record<string, unknown>)['error'], { name: 'TypeError' });
  });

  it("keep the message of an error that is the SDK's or the connection's own, cut short", () => {
    const { logger, lines } = capture();
    const transport = Object.assign(new Error(`connect ECONNREFUSED 127.0.0.1:7233 ${'x'.repeat(1000)}`), {
      code: 'ECONNREFUSED',
    });

    logger.error('Worker failed', { error: transport, spanContexts: [{ a: 1 }], nested: { taskToken: 'x' } });

    const entry = JSON.parse(lines[0]!) as Record<string, Record<string, unknown>>;
    assert.equal(entry['error']?.['code'], 'ECONNREFUSED');
    assert.match(String(entry['error']?.['message']), /^connect ECONNREFUSED 127\.0\.0\.1:7233 x+…$/);
    assert.ok(String(entry['error']?.['message']).length <= 300);
    assert.equal(entry['spanContexts'], undefined);
    assert.equal(entry['nested'], undefined);
  });

  it('stay below WARN unless asked', () => {
    const { logger, lines } = capture();
    logger.info('Activity completed', { ...activityAttributes });
    logger.debug('Activity started', { ...activityAttributes });
    assert.deepEqual(lines, []);
  });
});
