/**
 * How a delivery authenticates to its receiver, besides the signature. Two shapes of the same setting:
 * {@link EndpointCredentials} holds the secrets (decrypted only by the delivery attempt, sealed at rest) and
 * {@link EndpointAuthView} is what the API shows, without a secret.
 */

export type EndpointAuthType = 'basic' | 'bearer' | 'oauth2_client_credentials' | 'mtls';

/** How the OAuth2 client authenticates to the token endpoint (RFC 6749 §2.3.1). */
export type OAuth2ClientAuthMethod = 'client_secret_basic' | 'client_secret_post';

export type EndpointCredentials =
  | { readonly type: 'basic'; readonly username: string; readonly password: string }
  | { readonly type: 'bearer'; readonly token: string }
  | {
      readonly type: 'oauth2_client_credentials';
      readonly tokenUrl: string;
      readonly clientId: string;
      readonly clientSecret: string;
      readonly scope?: string;
      readonly audience?: string;
      readonly clientAuthMethod: OAuth2ClientAuthMethod;
    }
  | {
      readonly type: 'mtls';
      /** PEM: the client certificate, optionally followed by its intermediates. */
      readonly certificate: string;
      /** PEM: the unencrypted private key of the certificate. */
      readonly privateKey: string;
    };

/** What a client certificate is, for people: never the key. */
export interface CertificateSummary {
  readonly subject: string;
  readonly issuer: string;
  /** SHA-256 fingerprint, `AB:CD:...`. */
  readonly fingerprint256: string;
  readonly validTo: string;
}

/** The endpoint's authentication as stored in the clear and shown by the API. */
export type EndpointAuthView =
  | { readonly type: 'basic'; readonly username: string }
  | { readonly type: 'bearer' }
  | {
      readonly type: 'oauth2_client_credentials';
      readonly tokenUrl: string;
      readonly clientId: string;
      readonly scope?: string;
      readonly audience?: string;
      readonly clientAuthMethod: OAuth2ClientAuthMethod;
    }
  | { readonly type: 'mtls'; readonly certificate: CertificateSummary };

/** What stands in for a secret wherever a request is shown instead of sent (the dry run). */
export const REDACTED = '[redacted]';

/**
 * The header the service adds for `auth` as the dry run shows it: the scheme in the clear, the secret redacted.
 * mTLS adds no header (the certificate goes in the TLS handshake).
 */
export function redactedAuthHeaders(auth: EndpointAuthView | undefined): Record<string, string> {
  if (auth === undefined) return {};
  switch (auth.type) {
    case 'basic':
      return { authorization: `Basic ${REDACTED}` };
    case 'bearer':
    case 'oauth2_client_credentials':
      return { authorization: `Bearer ${REDACTED}` };
    case 'mtls':
      return {};
    default: {
      const unreachable: never = auth;
      throw new Error(`unhandled auth ${JSON.stringify(unreachable)}`);
    }
  }
}

/** The header names the service sets for an auth type, which the static `headers` must not contain. */
export function authHeaderNames(type: EndpointAuthType | undefined): readonly string[] {
  return type === undefined || type === 'mtls' ? [] : ['authorization'];
}

/**
 * `headers` with the authentication's headers last: a header of the same name (a transform may return one) is
 * removed first, so ours is the one sent, and sent once. Names are lower case, like every header sent.
 */
export function withAuthHeaders(
  headers: Readonly<Record<string, string>>,
  auth: Readonly<Record<string, string>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (!(name.toLowerCase() in auth)) out[name] = value;
  return { ...out, ...auth };
}
