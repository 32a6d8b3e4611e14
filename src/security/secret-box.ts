import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { SecretUnavailableError } from '../domain/errors';

const VERSION = 'v1';

/**
 * AES-256-GCM encryption of endpoint secrets at rest.
 *
 * Ciphertexts look like `v1.<iv>.<tag>.<ciphertext>` (base64url parts). The additional authenticated data binds a
 * ciphertext to its owner (`tenant/endpoint`), so a ciphertext copied onto another endpoint's record does not
 * decrypt there.
 */
export class SecretBox {
  private readonly key: Buffer;

  /** @param masterKeyBase64 32 random bytes, base64-encoded (`WSS_MASTER_KEY`). */
  constructor(masterKeyBase64: string) {
    const key = Buffer.from(masterKeyBase64, 'base64');
    if (key.length !== 32) throw new SecretUnavailableError('master key must be 32 bytes (base64-encoded)');
    this.key = key;
  }

  seal(plaintext: string, owner: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(owner, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [VERSION, iv.toString('base64url'), tag.toString('base64url'), ciphertext.toString('base64url')].join('.');
  }

  open(sealed: string, owner: string): string {
    const [version, iv, tag, ciphertext] = sealed.split('.');
    if (version !== VERSION || iv === undefined || tag === undefined || ciphertext === undefined) {
      throw new SecretUnavailableError('stored secret has an unknown format');
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(owner, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      // Never include the cause: it adds nothing an operator can act on beyond "wrong key or tampered".
      throw new SecretUnavailableError('stored secret cannot be decrypted (wrong WSS_MASTER_KEY or tampered record)');
    }
  }
}

/** A fresh master key for local runs and tests. */
export function generateMasterKey(): string {
  return randomBytes(32).toString('base64');
}
