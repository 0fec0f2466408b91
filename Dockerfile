# Gatehouse image. Build: docker build -t gatehouse .
# Run it with docker-compose.yml (Postgres + Gatehouse), or with your own
# DATABASE_URL and GATEHOUSE_SECRET.

# --- build: install dependencies (argon2 is compiled here) ---------------------
FROM node:22-bookworm-slim AS build

# argon2 is built from source with node-gyp, which needs these.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*

# The project's .npmrc sets strict-allow-scripts, and package.json lists the
# dependencies whose install scripts may run (allowScripts). That needs npm 11;
# the npm bundled with Node 22 would ignore both and run every install script.
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

COPY . .
# Dev dependencies (prisma CLI, vitest, typescript, openid-client) were needed
# only to install; tsx runs the TypeScript sources at run time.
RUN npm prune --omit=dev

# --- runtime --------------------------------------------------------------------
FROM node:22-bookworm-slim

ENV NODE_ENV=production \
    PORT=3000 \
    GATEHOUSE_DATA_DIR=/data

WORKDIR /app
# Code stays owned by root: the server cannot modify itself.
COPY --from=build /app /app

# Only used without DATABASE_URL (embedded Postgres) or without
# GATEHOUSE_SECRET outside production; writable by the `node` user.
RUN mkdir -p /data && chown node:node /data
VOLUME /data

USER node
EXPOSE 3000

# Node runs as PID 1 rather than through `npm start`: npm and its `sh -c`
# would sit between Docker and Node and SIGTERM (docker stop) would not reach
# src/main.ts, which stops the HTTP server and then the database in order.
# `--import tsx` runs TypeScript in this one process (the `tsx` command would
# start a second one).
CMD ["node", "--import", "tsx", "src/main.ts"]
