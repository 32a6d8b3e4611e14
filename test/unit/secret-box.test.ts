import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SecretUnavailableError } from '../../src/domain/errors';
import { SecretBox, generateMasterKey } from '../../src/security/secret-box';

describe('SecretBox', () => {
  const box = new SecretBox(generateMasterKey());

  it('round-trips a secret and never stores it in plaintext', () => {
    const sealed = box.seal('wss_super_secret_value', 'acme/ep_1');
    assert.equal(sealed.includes('wss_super_secret_value'), false);
    assert.equal(box.open(sealed, 'acme/ep_1'), 'wss_super_secret_value');
  });

  it('uses a fresh IV each time', () => {
    assert.notEqual(box.seal('same', 'o'), box.seal('same', 'o'));
  });

  it('refuses a master key that is not 32 bytes with a typed error', () => {
    for (const key of ['', Buffer.alloc(16).toString('base64'), Buffer.alloc(33).toString('base64')]) {
      assert.throws(
        () => new SecretBox(key),
        (err: unknown) => err instanceof SecretUnavailableError && /32 bytes/.test(err.message),
      );
    }
  });

  it('refuses a ciphertext moved to another owner', () => {
    const sealed = box.seal('s', 'acme/ep_1');
    assert.throws(() => box.open(sealed, 'evil/ep_1'), { code: 'secret_unavailable' });
  });

  it('refuses a ciphertext under another master key, without leaking the cause', () => {
    const sealed = box.seal('s', 'o');
    const other = new SecretBox(generateMasterKey());
    assert.throws(
      () => other.open(sealed, 'o'),
      (err: Error) => /wrong WSS_MASTER_KEY or tampered/.test(err.message),
    );
  });

  it('rejects a master key of the wrong size', () => {
    assert.throws(() => new SecretBox(Buffer.alloc(16).toString('base64')));
  });
});
