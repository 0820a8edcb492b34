# syntax=docker/dockerfile:1
#
# Switchyard container image.
#   docker build -t switchyard:0.1.0 .
#
# There is no build step: Node.js 24 runs src/*.ts directly (type stripping), so the image holds
# the sources, package.json/package-lock.json and the production node_modules, nothing else.

# Stage 1: production dependencies only. The `node` devDependency (the dev toolchain's Node 24),
# typescript, kubernetes-models etc. are not installed; the runtime image brings its own Node 24.
# --ignore-scripts: no production dependency needs an install script (they are plain JavaScript),
# and not running third-party scripts at build time is one less way in.
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

# Stage 2: runtime. Distroless: Node 24 and glibc/CA certificates only, no shell, no package
# manager, no npm. Nothing here needs a shell (exec-form ENTRYPOINT, no scripts), and an image
# without one has far less to exploit and to patch. Its user 65532 is "nonroot".
# (For production, pin both FROM lines by digest.)
FROM gcr.io/distroless/nodejs24-debian12:nonroot AS runtime
WORKDIR /app
ENV NODE_ENV=production
# Files stay owned by root and read-only to the process: the controller writes nothing outside
# /tmp, so the container runs with readOnlyRootFilesystem (mount an emptyDir on /tmp).
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY bin ./bin
COPY src ./src
USER 65532:65532
# http, https, admin (/healthz /readyz /metrics /debug/*)
EXPOSE 8080 8443 10254
# The controller handles SIGTERM itself: stop taking new work, drain, exit. Node runs as PID 1
# here; it spawns no children, so there is nothing for an init process to reap.
STOPSIGNAL SIGTERM
# For `docker run` (assumes the default --admin-port); Kubernetes ignores HEALTHCHECK and uses the
# Deployment's probes.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/nodejs/bin/node", "-e", "fetch('http://127.0.0.1:10254/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# bin/switchyard.js re-executes itself (same pid) with the shipped V8 flags, as with `npm run
# controller` and the bench (src/node-flags.ts: a capped young generation keeps RSS at 10,000
# Ingresses near 250 MiB instead of a figure that depends on the node's RAM; bench/PROFILE.md §6).
ENTRYPOINT ["/nodejs/bin/node", "bin/switchyard.js"]
CMD ["--source=kubernetes"]
