import type { CachedToken, TokenCache } from '../infra/egress/oauth2-tokens';
import type { RedisClient } from '../infra/redis';
import type { SecretBox } from '../security/secret-box';
import type { RedisKeys } from './redis-keys';

/**
 * The OAuth2 tokens every worker shares, in Redis. A token is a bearer credential, so it is sealed with the
 * master key like the endpoint secrets, bound to its key; the entry expires when the token stops being usable.
 */
export class OAuth2TokenCache implements TokenCache {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly box: SecretBox,
  ) {}

  async get(digest: string): Promise<CachedToken | undefined> {
    const key = this.keys.oauth2Token(digest);
    const sealed = await this.redis.get(key);
    if (sealed === null) return undefined;
    return JSON.parse(this.box.open(sealed, key)) as CachedToken;
  }

  async set(digest: string, token: CachedToken, ttlMs: number): Promise<void> {
    const key = this.keys.oauth2Token(digest);
    await this.redis.set(key, this.box.seal(JSON.stringify(token), key), 'PX', Math.max(1, Math.floor(ttlMs)));
  }

  async deleteIf(digest: string, accessToken: string): Promise<void> {
    // Sealed values differ on every write, so the check opens it; a refresh landing in between is only fetched again.
    const current = await this.get(digest);
    if (current?.accessToken === accessToken) await this.redis.del(this.keys.oauth2Token(digest));
  }

  async tryLock(digest: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.keys.oauth2Token(digest, 'lock'), '1', 'PX', ttlMs, 'NX')) === 'OK';
  }

  async unlock(digest: string): Promise<void> {
    await this.redis.del(this.keys.oauth2Token(digest, 'lock'));
  }
}
