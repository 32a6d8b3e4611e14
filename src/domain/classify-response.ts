import { clampRetryAfterMs } from './retry-after';

/** What one delivery attempt produced, reduced to what the decision needs. */
export type AttemptObservation =
  | {
      readonly kind: 'response';
      readonly statusCode: number;
      /** Parsed `Retry-After`, unclamped (see `parseRetryAfter`); only honoured on 429 and 503. */
      readonly retryAfterMs?: number;
    }
  | {
      readonly kind: 'transport';
      /** Low-level cause code: undici `UND_ERR_*`, Node `E*` errno codes, or `deadline_exceeded`. */
      readonly causeCode: string;
    }
  /** The egress (SSRF) policy refused the destination before any byte was sent. */
  | { readonly kind: 'blocked' };

/** The part of a resolved retry policy that classification reads. */
export interface ClassificationPolicy {
  /** Status codes that stop delivery besides 410. Default: none. */
  readonly permanentStatusCodes?: readonly number[];
  /** Upper bound for a receiver's `Retry-After`, in ms. */
  readonly maximumIntervalMs: number;
}

export interface ClassifyResponseInput {
  readonly input: AttemptObservation;
  readonly policy: ClassificationPolicy;
}

/** Stable reason for a failed attempt without a response. Shown in logs, history and the API. */
export type TransportReason =
  | 'timeout'
  | 'connection_reset'
  | 'connect_refused'
  | 'dns_failure'
  | 'host_unreachable'
  | 'tls_error'
  | 'response_too_large'
  | 'protocol_error'
  | 'aborted'
  | 'network_error'
  /** The endpoint's OAuth2 token endpoint failed (unreachable, an error status, no token): nothing was sent. */
  | 'oauth2_token_error'
  /** The HTTP client refused to send the request as built (e.g. a `Keep-Alive` or `Expect` header); never sent. */
  | 'invalid_request';

/**
 * `http_<status>` for answered attempts, a {@link TransportReason} otherwise, `destination_not_allowed` for
 * blocked ones.
 */
export type DeliveryReason = `http_${number}` | 'invalid_status' | TransportReason | 'destination_not_allowed';

export type DeliveryClassification =
  | { readonly outcome: 'delivered' }
  /** 410: the receiver says the endpoint is gone for good; the caller disables it. */
  | { readonly outcome: 'gone' }
  | { readonly outcome: 'permanent'; readonly reason: DeliveryReason }
  | {
      readonly outcome: 'retry';
      readonly reason: DeliveryReason;
      /** The receiver's requested wait, already clamped; absent means "retry on the policy's schedule". */
      readonly retryAfterMs?: number;
    };

/**
 * Decides what one attempt means for the delivery. Pure and total: every status code and cause code maps to
 * exactly one outcome.
 *
 * - 2xx: delivered.
 * - 410: gone (permanent; the caller disables the endpoint).
 * - a code in `policy.permanentStatusCodes`, a destination blocked by the egress policy, or a request the HTTP
 *   client refuses to send as built (`invalid_request`, which every attempt would repeat): permanent.
 * - 429 and 503 with `Retry-After`: retry after that delay, clamped to [1 s, `maximumIntervalMs`].
 * - every other status (1xx, 3xx, 4xx, 5xx) and every transport error: retry on the policy's schedule.
 *   Redirects are retried rather than followed because following one would send a signed payload to a URL
 *   nobody registered, past the SSRF check done for the registered one.
 */
export function classifyResponse({ input, policy }: ClassifyResponseInput): DeliveryClassification {
  switch (input.kind) {
    case 'response':
      return classifyStatus(input.statusCode, input.retryAfterMs, policy);
    case 'transport': {
      const reason = transportReason(input.causeCode);
      return reason === 'invalid_request' ? { outcome: 'permanent', reason } : { outcome: 'retry', reason };
    }
    case 'blocked':
      return { outcome: 'permanent', reason: 'destination_not_allowed' };
    default: {
      const unreachable: never = input;
      throw new Error(`unhandled attempt observation ${JSON.stringify(unreachable)}`);
    }
  }
}

function classifyStatus(
  statusCode: number,
  retryAfterMs: number | undefined,
  policy: ClassificationPolicy,
): DeliveryClassification {
  if (!Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) {
    return { outcome: 'retry', reason: 'invalid_status' };
  }
  if (statusCode >= 200 && statusCode <= 299) return { outcome: 'delivered' };
  if (statusCode === 410) return { outcome: 'gone' };

  const reason: DeliveryReason = `http_${statusCode}`;
  if (policy.permanentStatusCodes?.includes(statusCode)) return { outcome: 'permanent', reason };
  if ((statusCode === 429 || statusCode === 503) && retryAfterMs !== undefined) {
    return { outcome: 'retry', reason, retryAfterMs: clampRetryAfterMs(retryAfterMs, policy.maximumIntervalMs) };
  }
  return { outcome: 'retry', reason };
}

/** Keys are upper-case; lookups upper-case the cause so `deadline_exceeded` and `DEADLINE_EXCEEDED` agree. */
const TRANSPORT_REASONS: Readonly<Record<string, TransportReason>> = {
  UND_ERR_CONNECT_TIMEOUT: 'timeout',
  UND_ERR_HEADERS_TIMEOUT: 'timeout',
  UND_ERR_BODY_TIMEOUT: 'timeout',
  ETIMEDOUT: 'timeout',
  ESOCKETTIMEDOUT: 'timeout',
  DEADLINE_EXCEEDED: 'timeout',
  TIMEOUTERROR: 'timeout',

  UND_ERR_SOCKET: 'connection_reset',
  UND_ERR_CLOSED: 'connection_reset',
  ECONNRESET: 'connection_reset',
  ECONNABORTED: 'connection_reset',
  EPIPE: 'connection_reset',

  ECONNREFUSED: 'connect_refused',

  ENOTFOUND: 'dns_failure',
  EAI_AGAIN: 'dns_failure',
  EAI_FAIL: 'dns_failure',
  EAI_NONAME: 'dns_failure',
  EAI_NODATA: 'dns_failure',

  EHOSTUNREACH: 'host_unreachable',
  ENETUNREACH: 'host_unreachable',
  EHOSTDOWN: 'host_unreachable',
  ENETDOWN: 'host_unreachable',

  UND_ERR_RES_EXCEEDED_MAX_SIZE: 'response_too_large',

  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'protocol_error',
  ERR_INVALID_HTTP_RESPONSE: 'protocol_error',

  // undici and Node validate a request before sending it; what they refuse once they refuse every time.
  UND_ERR_INVALID_ARG: 'invalid_request',
  UND_ERR_NOT_SUPPORTED: 'invalid_request',
  ERR_INVALID_CHAR: 'invalid_request',
  ERR_INVALID_HTTP_TOKEN: 'invalid_request',

  // The OAuth2 token endpoint failed; the token service may recover, so it is retried like the receiver would be.
  OAUTH2_TOKEN_ERROR: 'oauth2_token_error',

  UND_ERR_ABORTED: 'aborted',
  ABORT_ERR: 'aborted',
  ABORTERROR: 'aborted',
};

/**
 * OpenSSL and Node report certificate and handshake problems under dozens of codes; a receiver can fix all of
 * them (renew, re-chain), so they share one reason and are retried.
 */
const TLS_CODE =
  /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|EPROTO$)/;
/** llhttp parser errors: the peer spoke something that is not HTTP/1.1. */
const PARSER_CODE = /^HPE_/;

/** Maps a low-level cause code to a stable reason; unknown codes become `network_error`, never an exception. */
export function transportReason(causeCode: string): TransportReason {
  const code = causeCode.trim().toUpperCase();
  const known = TRANSPORT_REASONS[code];
  if (known !== undefined) return known;
  if (TLS_CODE.test(code)) return 'tls_error';
  if (PARSER_CODE.test(code)) return 'protocol_error';
  return 'network_error';
}
