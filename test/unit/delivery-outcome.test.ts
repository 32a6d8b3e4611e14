import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  MAX_ERROR_LENGTH,
  endpointStatusFromAttempts,
  summarizeDeliveries,
  truncateError,
} from '../../src/domain/delivery-outcome';
import type { DeliveryResult, DeliveryStatus, EndpointDeliveryStatus } from '../../src/domain/delivery-outcome';
import { parseEndpointId } from '../../src/domain/ids';

const result = (status: EndpointDeliveryStatus, index = 0): DeliveryResult => ({
  endpointId: parseEndpointId(`ep_${index}`),
  status,
  attempts: 1,
});
const results = (...statuses: EndpointDeliveryStatus[]) => statuses.map((status, index) => result(status, index));

describe('summarizeDeliveries', () => {
  const cases: [string, DeliveryResult[], DeliveryStatus][] = [
    ['no endpoints', [], 'no_subscribers'],
    ['one delivered', results('delivered'), 'delivered'],
    ['all delivered', results('delivered', 'delivered', 'delivered'), 'delivered'],
    ['delivered plus skipped', results('delivered', 'skipped'), 'delivered'],
    ['all skipped', results('skipped', 'skipped'), 'skipped'],
    ['one failed among delivered', results('delivered', 'failed', 'delivered'), 'failed'],
    ['failed and cancelled', results('cancelled', 'failed'), 'failed'],
    ['failed while another is pending', results('pending', 'failed'), 'failed'],
    ['pending among delivered', results('delivered', 'pending'), 'pending'],
    ['pending and cancelled', results('cancelled', 'pending'), 'pending'],
    ['cancelled among delivered', results('delivered', 'cancelled'), 'cancelled'],
    ['cancelled and skipped', results('skipped', 'cancelled'), 'cancelled'],
  ];
  for (const [name, input, expected] of cases) {
    it(`is ${expected} for ${name}`, () => assert.equal(summarizeDeliveries(input), expected));
  }

  for (const status of ['pending', 'delivered', 'failed', 'cancelled', 'skipped'] as const) {
    it(`keeps a lone ${status} result as ${status}`, () => assert.equal(summarizeDeliveries([result(status)]), status));
  }
});

describe('truncateError', () => {
  const cases: [string, string, number | undefined, string][] = [
    ['keeps a short message', 'boom', undefined, 'boom'],
    ['keeps a message exactly at the limit', 'abcde', 5, 'abcde'],
    ['cuts a longer message and marks the cut', 'abcdefgh', 5, 'abcd…'],
    ['keeps only the marker at a limit of 1', 'abcdefgh', 1, '…'],
    ['returns nothing at a limit of 0', 'abcdefgh', 0, ''],
    ['keeps an empty message', '', 3, ''],
    ['never splits a surrogate pair', 'ab😀cd', 4, 'ab…'],
    ['keeps a whole surrogate pair that fits', 'ab😀cd', 5, 'ab😀…'],
  ];
  for (const [name, message, max, expected] of cases) {
    it(name, () => assert.equal(truncateError(message, max), expected));
  }

  it(`limits to ${MAX_ERROR_LENGTH} characters by default`, () => {
    const cut = truncateError('x'.repeat(5_000));
    assert.equal(cut.length, MAX_ERROR_LENGTH);
    assert.ok(cut.endsWith('…'));
    assert.equal(truncateError('y'.repeat(MAX_ERROR_LENGTH)), 'y'.repeat(MAX_ERROR_LENGTH));
  });
});

describe('endpointStatusFromAttempts', () => {
  const cases: [Parameters<typeof endpointStatusFromAttempts>[0], string, string][] = [
    ['delivered', 'RUNNING', 'delivered'],
    ['delivered', 'COMPLETED', 'delivered'],
    ['skipped', 'COMPLETED', 'skipped'],
    ['failed', 'RUNNING', 'failed'],
    ['retry', 'RUNNING', 'pending'],
    [undefined, 'RUNNING', 'pending'],
    ['retry', 'CANCELLED', 'cancelled'],
    [undefined, 'CANCELLED', 'cancelled'],
    ['retry', 'TERMINATED', 'failed'],
    ['retry', 'TIMED_OUT', 'failed'],
    [undefined, 'TERMINATED', 'failed'],
  ];
  for (const [outcome, workflowStatus, expected] of cases) {
    it(`is ${expected} after a last attempt of ${outcome ?? 'none'} in a ${workflowStatus} workflow`, () => {
      assert.equal(endpointStatusFromAttempts(outcome, workflowStatus), expected);
    });
  }
});
