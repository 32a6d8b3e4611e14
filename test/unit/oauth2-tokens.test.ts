import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EndpointCredentials } from '../../src/domain/endpoint-auth';
import { DeliveryTransportError, DestinationNotAllowedError } from '../../src/domain/errors';
import { OAUTH2_TOKEN_ERROR, OAuth2TokenSource } from '../../src/infra/egress/oauth2-tokens';
import type { CachedToken, TokenCache, TokenPost } from '../../src/infra/egress/oauth2-tokens';

/** The token source's caching, sharing and failure rules, with a scripted token endpoint and a manual clock. */

const CREDENTIALS: Extract<EndpointCredentials, { type: 'oauth2_client_credentials' }> = {
  type: 'oauth2_client_credentials',
  tokenUrl: 'https://auth.example/token',
  clientId: 'id',
  clientSecret: 's3cret',
  clientAuthMethod: 'client_secret_post',
  scope: 'a b',
};
const CONTEXT = { endpointId: 'ep_1' };

function tokenEndpoint(answer: (n: number) => { statusCode: number; body: string }) {
  const calls: { url: string; headers: Record<string, string>; body: string }[] = [];
  const post: TokenPost = async (url, headers, body) => {
    calls.push({ url, headers, body });
    return answer(calls.length);
  };
  return { calls, post };
}

const issuing = (expiresIn?: number) => (n: number) => ({
  statusCode: 200,
  body: JSON.stringify({
    access_token: `tok-${n}`,
    token_type: 'bearer',
    ...(expiresIn !== undefined ? { expires_in: expiresIn } : {}),
  }),
});

/** An in-memory stand-in for the Redis cache, shared by several sources as Redis is by several workers. */
function sharedCache(): TokenCache & { entries: Map<string, CachedToken> } {
  const entries = new Map<string, CachedToken>();
  const locks = new Set<string>();
  return {
    entries,
    get: async (key) => entries.get(key),
    set: async (key, token) => void entries.set(key, token),
    deleteIf: async (key, token) => {
      if (entries.get(key)?.accessToken === token) entries.delete(key);
    },
    tryLock: async (key) => (locks.has(key) ? false : (locks.add(key), true)),
    unlock: async (key) => void locks.delete(key),
  };
}

describe('OAuth2 token source', () => {
  it('sends a client-credentials request and reuses the token until shortly before it expires', async () => {
    let now = 1_000_000;
    const endpoint = tokenEndpoint(issuing(300));
    const source = new OAuth2TokenSource({ post: endpoint.post, now: () => now });

    assert.equal(await source.token(CREDENTIALS, CONTEXT), 'tok-1');
    const form = new URLSearchParams(endpoint.calls[0]!.body);
    assert.equal(form.get('grant_type'), 'client_credentials');
    assert.equal(form.get('scope'), 'a b');
    assert.equal(form.get('client_id'), 'id');
    assert.equal(form.get('client_secret'), 's3cret');
    assert.equal(endpoint.calls[0]!.headers.authorization, undefined, 'client_secret_post sends no Basic header');

    now += 239_000; // 300 s token, refreshed a minute early: still usable at 239 s
    assert.equal(await source.token(CREDENTIALS, CONTEXT), 'tok-1');
    now += 2_000;
    assert.equal(await source.token(CREDENTIALS, CONTEXT), 'tok-2');
    assert.equal(endpoint.calls.length, 2);
  });

  it('uses a token that says it has already expired (expires_in 0 or negative) once, and caches it nowhere', async () => {
    for (const expiresIn of [0, -5, -3600]) {
      const endpoint = tokenEndpoint(issuing(expiresIn));
      const cache = sharedCache();
      const source = new OAuth2TokenSource({ post: endpoint.post, cache, now: () => 1_000_000 });
      assert.equal(await source.token(CREDENTIALS, CONTEXT), 'tok-1', `${expiresIn}`);
      assert.equal(await source.token(CREDENTIALS, CONTEXT), 'tok-2', `${expiresIn}: not reused`);
      assert.equal(cache.entries.size, 0, `${expiresIn}: not shared`);
    }
  });

  it('fetches once for concurrent callers, and once across sources sharing a cache', async () => {
    const endpoint = tokenEndpoint(issuing(3600));
    const cache = sharedCache();
    const a = new OAuth2TokenSource({ post: endpoint.post, cache });
    const b = new OAuth2TokenSource({ post: endpoint.post, cache });
    const tokens = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).token(CREDENTIALS, CONTEXT)),
    );
    assert.ok(tokens.every((t) => t === 'tok-1'));
    assert.equal(endpoint.calls.length, 1);
  });

  it('replaces a rejected token once, and takes a token another worker already refreshed', async () => {
    const endpoint = tokenEndpoint(issuing(3600));
    const cache = sharedCache();
    const a = new OAuth2TokenSource({ post: endpoint.post, cache });
    const b = new OAuth2TokenSource({ post: endpoint.post, cache });
    assert.equal(await a.token(CREDENTIALS, CONTEXT), 'tok-1');
    assert.equal(await b.token(CREDENTIALS, CONTEXT), 'tok-1');
    assert.equal(await a.token(CREDENTIALS, { ...CONTEXT, rejected: 'tok-1' }), 'tok-2');
    // b's receiver rejects tok-1 too: a has already refreshed, so b takes tok-2 without a new request.
    assert.equal(await b.token(CREDENTIALS, { ...CONTEXT, rejected: 'tok-1' }), 'tok-2');
    assert.equal(endpoint.calls.length, 2);
  });

  it('uses a token without expires_in for 60 s only', async () => {
    let now = 0;
    const endpoint = tokenEndpoint(issuing());
    const source = new OAuth2TokenSource({ post: endpoint.post, now: () => now });
    await source.token(CREDENTIALS, CONTEXT);
    now += 29_000;
    await source.token(CREDENTIALS, CONTEXT);
    now += 2_000;
    await source.token(CREDENTIALS, CONTEXT);
    assert.equal(endpoint.calls.length, 2);
  });

  for (const [label, answer] of [
    ['an error status', { statusCode: 401, body: '{"error":"invalid_client"}' }],
    ['a body that is not JSON', { statusCode: 200, body: '<html>' }],
    ['no access_token', { statusCode: 200, body: '{"token_type":"bearer"}' }],
    ['a token type other than Bearer', { statusCode: 200, body: '{"access_token":"x","token_type":"mac"}' }],
  ] as const) {
    it(`fails with ${OAUTH2_TOKEN_ERROR} on ${label}, without the answer's text`, async () => {
      const source = new OAuth2TokenSource({ post: tokenEndpoint(() => answer).post });
      await assert.rejects(source.token(CREDENTIALS, CONTEXT), (err: unknown) => {
        assert.ok(err instanceof DeliveryTransportError);
        assert.equal(err.causeCode, OAUTH2_TOKEN_ERROR);
        assert.doesNotMatch(err.message, /invalid_client|html|s3cret/);
        return true;
      });
    });
  }

  it('names the token URL when the egress policy refuses it', async () => {
    const source = new OAuth2TokenSource({
      post: async () => {
        throw new DestinationNotAllowedError('resolves to private address 10.0.0.5');
      },
    });
    await assert.rejects(
      source.token(CREDENTIALS, CONTEXT),
      (err: unknown) =>
        err instanceof DestinationNotAllowedError &&
        err.reason === 'auth.tokenUrl: resolves to private address 10.0.0.5',
    );
  });

  it('keeps working when the shared cache fails (Redis down)', async () => {
    const endpoint = tokenEndpoint(issuing(3600));
    const broken: TokenCache = {
      get: async () => Promise.reject(new Error('down')),
      set: async () => Promise.reject(new Error('down')),
      deleteIf: async () => Promise.reject(new Error('down')),
      tryLock: async () => Promise.reject(new Error('down')),
      unlock: async () => Promise.reject(new Error('down')),
    };
    const source = new OAuth2TokenSource({ post: endpoint.post, cache: broken });
    assert.equal(await source.token(CREDENTIALS, CONTEXT), 'tok-1');
    assert.equal(await source.token(CREDENTIALS, CONTEXT), 'tok-1');
    assert.equal(endpoint.calls.length, 1);
  });
});
