# syntax=docker/dockerfile:1
# Build: compile TypeScript, keep production dependencies only. The Node that runs the operator is the one
# the project pins for its tests (npm package node-linux-<arch>, an optional dependency), copied out of
# node_modules, so the image, the tests and the demo run the very same binary.
FROM node:26.12.1-trixie-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
 && cp "$(readlink -f node_modules/.bin/node)" /node \
 && /node --version \
 && npm prune --omit=dev --omit=optional --ignore-scripts

# Run: distroless glibc + libstdc++ (what the Node binary links against), non-root, nothing else but the
# compiled code and its production dependencies.
FROM gcr.io/distroless/cc-debian13:nonroot
WORKDIR /app
COPY --from=build /node /nodejs/bin/node
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["/nodejs/bin/node", "dist/main.js"]
# The same image runs the Milvus refresh emulator for pipeline tests:
#   docker run --entrypoint /nodejs/bin/node IMAGE dist/emulator/main.js --host 0.0.0.0 --collection products
