# syntax=docker/dockerfile:1
# Build: compile TypeScript, keep production dependencies only. The Node that runs the operator is the one
# the project pins for its tests (npm package node-linux-<arch>, an optional dependency), copied out of
# node_modules, so the image, the tests and the demo run the very same binary.
#
# scripts/build-image.sh builds this same image without Docker (mmdebstrap + umoci) by reading this file:
# keep the build stage's RUN commands on paths relative to its WORKDIR, and to the instructions that script
# knows (FROM, WORKDIR, COPY, RUN, USER, EXPOSE, ENV, ENTRYPOINT); it refuses anything else.
FROM node:26.12.1-trixie-slim AS build
WORKDIR /src
# npm workspaces: the lock file names the emulator package, so npm ci needs its package.json. The image holds
# the operator only; the emulator's sources are never copied.
COPY package.json package-lock.json ./
COPY packages/milvus-refresh-emulator/package.json ./packages/milvus-refresh-emulator/
RUN npm ci --ignore-scripts --no-audit --no-fund --workspaces=false --include-workspace-root
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
 && cp "$(readlink -f node_modules/.bin/node)" node \
 && ./node --version \
 && cp -L "$(ldd ./node | awk '$1 == "libatomic.so.1" {print $3}')" libatomic.so.1 \
 && npm prune --omit=dev --omit=optional --ignore-scripts --workspaces=false --include-workspace-root

# Run: distroless glibc + libstdc++ (what the Node binary links against), non-root, nothing else but the
# compiled code and its production dependencies.
FROM gcr.io/distroless/cc-debian13:nonroot
WORKDIR /app
COPY --from=build /src/node /nodejs/bin/node
# The official Node binary links libatomic.so.1, which distroless/cc does not ship (/usr/lib is on the
# loader's default path on every architecture).
COPY --from=build /src/libatomic.so.1 /usr/lib/libatomic.so.1
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
USER 65532:65532
EXPOSE 8080 8081
# Memory (docs/scale.md, measured with npm run bench, which starts the operator with exactly these): V8's
# semi-spaces (the young generation) at most 4 MiB each, below V8's default maximum; the first full
# collection when the old generation reaches 32 MiB, and each later one when it has grown by 75% since the
# last (without these, a burst of 1,000 resources ran no full collection until the heap held 138 MiB, three
# times its live data, and V8 kept the pages; 75% rather than 100% since the seventh round: 10 MiB less at the
# peak of 10,000 for about 5% more CPU); two glibc malloc arenas instead of eight per core (HTTP/2, TLS and
# gRPC buffers otherwise leave freed memory in many arenas); blocks of 64 KiB and more mapped on their own
# (since the eighth round): Node reads every socket into a fresh 64 KiB buffer and shrinks it to the bytes
# read, which in glibc's heap leaves a live sliver beside each free remainder (150 s into a burst of 10,000:
# a 37 MB heap with 21 MB in use), while a mapped buffer goes back to the system whole when it is freed
# (10-15 MiB less at the peak; alternating runs measured no more CPU). --expose-gc lets the operator's memory
# reclaim (--memory-reclaim-mib, off by default: it costs CPU; src/runtime/memory-reclaim.ts) run full
# collections, the only ones that free received HTTP/2 data once it is in the old generation, so it can be
# turned on without another image. The reclaim returns freed C heap pages with glibc's malloc_trim through
# node:ffi, which Node 26 marks experimental: --disable-warning keeps that notice out of the logs.
ENV MALLOC_ARENA_MAX=2
ENV MALLOC_MMAP_THRESHOLD_=65536
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=4", "--initial-old-space-size=32", "--heap-growing-percent=75", "--expose-gc", "--disable-warning=ExperimentalWarning", "dist/main.js"]
