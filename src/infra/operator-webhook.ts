import { signWss } from '../security/signature';
import type { OperationalEvent, OperatorNotifier } from '../store/operational-events';
import type { HttpClient } from './http-client';

/**
 * POSTs operational events to the operator's webhook, signed like a delivery (`X-WSS-Timestamp`,
 * `X-WSS-Signature`) when a secret is configured. One attempt: the stream keeps the event if this fails.
 */
export function createOperatorWebhook(
  url: string,
  secret: string | undefined,
  http: Pick<HttpClient, 'post'>,
  now: () => number = Date.now,
): OperatorNotifier {
  return {
    async notify(event: OperationalEvent) {
      const body = JSON.stringify({ type: event.type, occurredAt: event.at, data: event });
      const timestamp = Math.floor(now() / 1000);
      const headers: Record<string, string> = { 'content-type': 'application/json', 'x-wss-event-type': event.type };
      if (secret !== undefined) {
        headers['x-wss-timestamp'] = String(timestamp);
        headers['x-wss-signature'] = signWss(secret, timestamp, body);
      }
      const response = await http.post(url, headers, body, { endpointId: 'operator-webhook' });
      if (response.statusCode < 200 || response.statusCode > 299) {
        throw new Error(`operator webhook answered HTTP ${response.statusCode}`);
      }
    },
  };
}
