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

/**
 * Parses a client certificate and its key, and checks that they belong together and that the certificate is valid
 * now, so a wrong pair is a 400 at registration rather than a TLS failure on every attempt. Messages never quote
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
  return {
    subject: certificate.subject,
    issuer: certificate.issuer,
    fingerprint256: certificate.fingerprint256,
    validTo: new Date(Date.parse(certificate.validTo)).toISOString(),
  };
}
