# One image for every service of the monorepo; the command picks the service
# (docker-compose.yml and k8s/ set it). Services run their TypeScript entry points under tsx,
# exactly as `npm start` does, so there is one way to run them. The admin CLI is in the image too:
# `docker compose run --rm gateway node --import tsx scripts/admin.ts help`.
# Node 22 LTS (Node 20 reached end of life on 2026-04-30); the code also runs on Node 20.19+.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY libs ./libs
COPY services ./services
COPY clients ./clients
COPY scripts ./scripts
COPY tests/package.json ./tests/package.json
RUN npm ci --no-audit --no-fund && npm run build && npm prune --omit=dev

FROM node:22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app /app
# The compose `secrets` volume takes this folder's owner, so the non-root CLI can write it.
RUN mkdir -p /secrets && chown node:node /secrets
USER node
EXPOSE 8080 9464
# Overridden per service, e.g. ["node","--import","tsx","services/auth/src/main.ts"]
CMD ["node", "--import", "tsx", "services/gateway/src/main.ts"]
