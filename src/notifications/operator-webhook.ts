import { buildMessage, signRequest, unixSeconds } from '../delivery/signed-request';
import type { OperationalEvent, OperatorNotifier } from '../domain/operational-event';
import type { HttpClient } from '../infra/http-client';
import { isStandardWebhooksSecret } from '../security/signature';

/**
 * POSTs operational events to the operator's webhook, built and signed like a delivery (the same module, the same
 * headers: `x-wss-event-id` carries the event's id in the operational-events stream). With a secret it is signed
 * with the wss scheme, and a `whsec_` secret adds the Standard Webhooks headers (`webhook-id`, ...) as an
 * endpoint's `both` scheme does, so either kind of verifier accepts it. One attempt: the stream keeps the event if
 * this fails.
 */
export function createOperatorWebhook(
  url: string,
  secret: string | undefined,
  http: Pick<HttpClient, 'post'>,
  now: () => number = Date.now,
): OperatorNotifier {
  return {
    async notify(event: OperationalEvent, id: string) {
      const message = buildMessage({
        id,
        type: event.type,
        body: JSON.stringify({ type: event.type, occurredAt: event.at, data: event }),
      });
      const request =
        secret === undefined
          ? message
          : signRequest(message, {
              scheme: isStandardWebhooksSecret(secret) ? 'both' : 'wss',
              secrets: [secret],
              timestamp: unixSeconds(now()),
            });
      const response = await http.post(url, { ...request.headers }, request.body, { endpointId: 'operator-webhook' });
      if (response.statusCode < 200 || response.statusCode > 299) {
        throw new Error(`operator webhook answered HTTP ${response.statusCode}`);
      }
    },
  };
}
