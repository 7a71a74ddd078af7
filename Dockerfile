# One image for every service of the monorepo; the command picks the service
# (docker-compose.yml and k8s/ set it). Services run their TypeScript entry points under tsx,
# exactly as `npm start` does, so there is one way to run them.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY libs ./libs
COPY services ./services
COPY clients ./clients
COPY tests/package.json ./tests/package.json
RUN npm ci --no-audit --no-fund && npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app /app
USER node
EXPOSE 8080
# Overridden per service, e.g. ["node","--import","tsx","services/auth/src/main.ts"]
CMD ["node", "--import", "tsx", "services/gateway/src/main.ts"]
