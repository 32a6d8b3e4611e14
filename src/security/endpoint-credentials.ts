import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { CertificateSummary, EndpointAuthView, EndpointCredentials } from '../domain/endpoint-auth';
import { ValidationError } from '../domain/errors';

/**
 * The public view of an endpoint's credentials: what the API shows and the record keeps in the clear. Every
 * secret (password, token, client secret, private key) stays out.
 */
export function authView(credentials: EndpointCredentials): EndpointAuthView {
  switch (credentials.type) {
    case 'basic':
      return { type: 'basic', username: credentials.username };
    case 'bearer':
      return { type: 'bearer' };
    case 'oauth2_client_credentials':
      return {
        type: 'oauth2_client_credentials',
        tokenUrl: credentials.tokenUrl,
        clientId: credentials.clientId,
        ...(credentials.scope !== undefined ? { scope: credentials.scope } : {}),
        ...(credentials.audience !== undefined ? { audience: credentials.audience } : {}),
        clientAuthMethod: credentials.clientAuthMethod,
      };
    case 'mtls':
      return { type: 'mtls', certificate: checkClientCertificate(credentials.certificate, credentials.privateKey) };
    default: {
      const unreachable: never = credentials;
      throw new Error(`unhandled credentials ${JSON.stringify(unreachable)}`);
    }
  }
}

/** A certificate that becomes valid within this much is accepted: clocks of issuer and service differ. */
const CLOCK_SKEW_MS = 5 * 60_000;
/** The extended key usage `id-kp-clientAuth` (RFC 5280 §4.2.1.12). */
const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';

/**
 * Parses a client certificate and its key, and checks that they belong together and that the certificate is valid
 * now (five minutes of clock skew allowed), is not a CA certificate, and, when it lists extended key usages,
 * allows client authentication, so a wrong pair is a 400 at registration rather than a TLS failure on every attempt. Messages never quote
 * the PEM text.
 *
 * @throws ValidationError (field `auth.certificate` or `auth.privateKey`)
 */
export function checkClientCertificate(
  certificatePem: string,
  privateKeyPem: string,
  now = Date.now(),
): CertificateSummary {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certificatePem);
  } catch {
    throw new ValidationError('auth.certificate: is not a PEM certificate', 'auth.certificate');
  }
  let key;
  try {
    key = createPrivateKey({ key: privateKeyPem, format: 'pem' });
  } catch {
    throw new ValidationError(
      'auth.privateKey: is not an unencrypted PEM private key (encrypted keys are not supported)',
      'auth.privateKey',
    );
  }
  if (!certificate.checkPrivateKey(key)) {
    throw new ValidationError('auth.privateKey: does not belong to the certificate', 'auth.privateKey');
  }
  if (Date.parse(certificate.validTo) <= now) {
    throw new ValidationError(`auth.certificate: expired on ${certificate.validTo}`, 'auth.certificate');
  }
  if (Date.parse(certificate.validFrom) > now + CLOCK_SKEW_MS) {
    throw new ValidationError(`auth.certificate: not valid before ${certificate.validFrom}`, 'auth.certificate');
  }
  if (certificate.ca) {
    throw new ValidationError(
      'auth.certificate: is a CA certificate (basicConstraints CA:TRUE), not a client certificate',
      'auth.certificate',
    );
  }
  // RFC 5280 §4.2.1.12: with an extended key usage, the certificate may be used only for the purposes it lists;
  // TLS servers checking client certificates refuse one without clientAuth (1.3.6.1.5.5.7.3.2).
  // `extKeyUsage` is the newer name (Node 23.5+); `keyUsage` is the same list on Node 20 and 22.
  const purposes = (certificate as X509Certificate & { extKeyUsage?: string[] }).extKeyUsage ?? certificate.keyUsage;
  if (purposes !== undefined && purposes.length > 0 && !purposes.includes(CLIENT_AUTH_OID)) {
    throw new ValidationError(
      'auth.certificate: is not for client authentication (its extended key usage lacks clientAuth)',
      'auth.certificate',
    );
  }
  return {
    subject: certificate.subject,
    issuer: certificate.issuer,
    fingerprint256: certificate.fingerprint256,
    validTo: new Date(Date.parse(certificate.validTo)).toISOString(),
  };
}
