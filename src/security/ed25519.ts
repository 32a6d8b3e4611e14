import { createHash, createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { InternalError } from '../domain/errors';

// The Standard Webhooks asymmetric scheme (`v1a`): ed25519 over `{msg_id}.{timestamp}.{body}`, public keys
// published per tenant as a JWKS (RFC 7517, OKP keys per RFC 8037). Signing is pure (key, clock and message are
// arguments); only generateSigningKeyPair draws randomness.

/** Prefix of a Standard Webhooks public key: `whpk_` + base64 of the 32 raw key bytes. */
export const STANDARD_WEBHOOKS_PUBLIC_KEY_PREFIX = 'whpk_';

/**
 * The request header carrying the key id (`kid`) of each `v1a` signature, space-separated, in the order of the
 * `v1a` entries of `webhook-signature` (`v1` entries are not counted). The Standard Webhooks spec has no kid;
 * receivers that ignore this header can try every key of the JWKS.
 */
export const SIGNATURE_KID_HEADER = 'webhook-signature-kid';

/** One ed25519 key pair that signs: its kid and its private key as base64 PKCS#8 DER. Never logged or returned. */
export interface AsymmetricSigningKey {
  readonly kid: string;
  readonly privateKey: string;
}

/** An ed25519 public key as a JWK (RFC 8037 `OKP`), with the fields a verifier needs to pick and use it. */
export interface Ed25519PublicJwk {
  readonly kty: 'OKP';
  readonly crv: 'Ed25519';
  /** The 32 raw public key bytes, base64url without padding. */
  readonly x: string;
  readonly kid: string;
  readonly use: 'sig';
  readonly alg: 'EdDSA';
}

/** A freshly generated key pair: the private key (to seal at once) and the public half's identifiers. */
export interface GeneratedSigningKeyPair {
  readonly kid: string;
  /** Base64url of the 32 raw public key bytes (the JWK's `x`). */
  readonly x: string;
  /** Base64 PKCS#8 DER. */
  readonly privateKey: string;
}

/** A new random ed25519 key pair, its kid the RFC 7638 thumbprint of its public JWK. */
export function generateSigningKeyPair(): GeneratedSigningKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const x = publicKey.export({ format: 'jwk' }).x;
  if (x === undefined) throw new InternalError('ed25519 public key has no x coordinate');
  return {
    kid: jwkThumbprint(x),
    x,
    privateKey: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
  };
}

/**
 * RFC 7638 thumbprint of an ed25519 public key: base64url SHA-256 of `{"crv":"Ed25519","kty":"OKP","x":…}` (the
 * required members in lexicographic order, no spaces). Derived from the key, so a kid can never name two keys.
 */
export function jwkThumbprint(x: string): string {
  return createHash('sha256').update(`{"crv":"Ed25519","kty":"OKP","x":"${x}"}`, 'utf8').digest('base64url');
}

/** The public JWK of a key, as the tenant's JWKS lists it. */
export function publicJwk(kid: string, x: string): Ed25519PublicJwk {
  return { kty: 'OKP', crv: 'Ed25519', x, kid, use: 'sig', alg: 'EdDSA' };
}

/** The Standard Webhooks serialisation of a public key: `whpk_` + base64 of its 32 raw bytes. */
export function standardWebhooksPublicKey(x: string): string {
  return STANDARD_WEBHOOKS_PUBLIC_KEY_PREFIX + Buffer.from(x, 'base64url').toString('base64');
}

/**
 * Signs per Standard Webhooks `v1a`: `v1a,<base64 ed25519 signature>` over `${msgId}.${timestamp}.` followed by the
 * body bytes. ed25519 is deterministic: the same key and content give the same signature.
 *
 * @param timestamp the decimal Unix seconds exactly as sent in `webhook-timestamp`.
 * @throws InternalError (not naming the key) when the private key cannot be read as an ed25519 PKCS#8 key.
 */
export function signV1a(key: AsymmetricSigningKey, msgId: string, timestamp: string, body: Uint8Array): string {
  const content = Buffer.concat([Buffer.from(`${msgId}.${timestamp}.`, 'utf8'), body]);
  return `v1a,${sign(null, content, privateKeyObject(key)).toString('base64')}`;
}

function privateKeyObject(key: AsymmetricSigningKey): KeyObject {
  let object: KeyObject;
  try {
    object = createPrivateKey({ key: Buffer.from(key.privateKey, 'base64'), format: 'der', type: 'pkcs8' });
  } catch {
    // The parser's message may quote the key material.
    throw new InternalError(`signing key ${key.kid} cannot be read as an ed25519 private key`);
  }
  if (object.asymmetricKeyType !== 'ed25519') {
    throw new InternalError(`signing key ${key.kid} is not an ed25519 key`);
  }
  return object;
}
