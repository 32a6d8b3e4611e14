# The service's one image: every role, chosen by the command (worker, consumer, api or all-in-one).
#
#   docker build -t webhook-sender .
#   docker run --read-only --network host -e REDIS_URL=... -e TEMPORAL_ADDRESS=... webhook-sender worker
#
# Both bases must be glibc (Debian, Ubuntu, ...): the Temporal SDK's native worker bridge has no musl (Alpine)
# build. BASE_IMAGE is the runtime stage's base and needs Node.js >= 20.18.1 (as `node` on PATH); BUILD_BASE_IMAGE
# (default: the same) also needs npm. Where no registry can be reached, scripts/local-base-image.sh makes both from
# a debootstrap of Debian trixie and prints the two build arguments.
ARG BASE_IMAGE=node:22-bookworm-slim
ARG BUILD_BASE_IMAGE=${BASE_IMAGE}

FROM ${BUILD_BASE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The dependency layer is cached until the lockfile changes.
RUN npm ci --no-audit --no-fund && npm cache clean --force
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/bundle-workflows.mjs ./scripts/
COPY src ./src
# The tenant portal's sources; `npm run build` builds them into portal/dist (served under /portal/).
COPY portal/index.html portal/vite.config.mjs portal/tsconfig.json ./portal/
COPY portal/src ./portal/src
# tsc, then the pre-bundled workflow code (dist/workflow-bundle.js): workers never run webpack at start. Then only
# production dependencies, and of the Temporal bridge's prebuilt binaries (about 25 MB each) only this platform's.
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund && npm cache clean --force \
 && find node_modules/@temporalio/core-bridge/releases -mindepth 1 -maxdepth 1 \
      ! -name "$(uname -m)-unknown-linux-gnu" -exec rm -rf {} +

FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="webhook-sender" \
      org.opencontainers.image.description="Webhook Sender Service: worker, consumer, api or all-in-one by command"
# A numeric user, so Kubernetes' runAsNonRoot can check it without reading /etc/passwd. It has no writable home:
# nothing in the service writes to disk, so the root file system can be read-only.
ARG APP_UID=10001
RUN groupadd --system --gid ${APP_UID} wss \
 && useradd --system --uid ${APP_UID} --gid ${APP_UID} --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin wss
# In a container the ports must be reachable from outside it (probes, Prometheus, the API's clients); the
# service's own defaults (127.0.0.1) suit a process on a shared host instead.
ENV NODE_ENV=production WSS_OPS_HOST=0.0.0.0 WSS_API_HOST=0.0.0.0
WORKDIR /app
# Owned by root and not writable by the service's user.
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/portal/dist ./portal/dist
COPY package.json ./
COPY bin ./bin
USER ${APP_UID}:${APP_UID}
# Ops port (/livez, /readyz, /metrics; WSS_OPS_PORT) and the API's port (WSS_API_PORT).
EXPOSE 9464 8080
ENTRYPOINT ["/app/bin/wss-role"]
