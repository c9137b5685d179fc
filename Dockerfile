# syntax=docker/dockerfile:1
# Build: compile TypeScript, keep production dependencies only.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --ignore-scripts

# Run: distroless Node 20, non-root, nothing but the compiled code and its dependencies.
FROM gcr.io/distroless/nodejs20-debian12:nonroot
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["/nodejs/bin/node", "dist/main.js"]
# The same image runs the Milvus refresh emulator for pipeline tests:
#   docker run --entrypoint /nodejs/bin/node IMAGE dist/emulator/main.js --host 0.0.0.0 --collection products
