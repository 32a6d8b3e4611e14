import fastifyHelmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../domain/errors';

/**
 * The tenant portal's built assets (`portal/dist`, made by `npm run build`): found from this module upwards, so it
 * works from `src/api` (tsx) and from `dist/src/api` (compiled) alike.
 */
export function defaultPortalDir(): string | undefined {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const candidate = join(dir, 'portal', 'dist');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * Serves the tenant portal under `/portal/`: static files only, with a strict CSP and the other security headers.
 * The portal talks to the public `/v1` API with a bearer token kept in memory (no cookie, so no CSRF surface, and
 * nothing in `localStorage`). When the assets are not built, `/portal/` answers 404 `not_found`, saying so.
 */
export async function portalPlugin(app: FastifyInstance, options: { root: string | undefined }): Promise<void> {
  await app.register(fastifyHelmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        fontSrc: ["'self'"],
        baseUri: ["'none'"],
        formAction: ["'none'"],
        frameAncestors: ["'none'"],
      },
    },
    // The portal link's token is in the URL fragment, which browsers never send as a referrer; no-referrer anyway.
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginEmbedderPolicy: true,
  });
  const { root } = options;
  if (root === undefined) {
    app.get('/portal/*', { schema: { hide: true } }, async () => {
      throw new NotFoundError('the tenant portal is not built: run npm run build');
    });
    return;
  }
  await app.register(fastifyStatic, {
    root,
    prefix: '/portal/',
    index: 'index.html',
    // Hashed asset names never change; index.html must be re-read so a new build is picked up.
    setHeaders: (res, path) => {
      res.setHeader('cache-control', path.endsWith('index.html') ? 'no-cache' : 'public, max-age=31536000, immutable');
    },
    schemaHide: true,
  });
  app.get('/portal', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/portal/', 301));
}
