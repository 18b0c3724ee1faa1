# syntax=docker/dockerfile:1
# dotproxy in a FROM scratch image: the compiled binary, the dynamic loader and the six glibc and
# libgcc libraries it links (deploy/scratch-libs.txt), nothing else: no shell, no package manager,
# no CA bundle (Deno carries its own Mozilla root store). See docs/deployment.md.
#
#   docker build -t dotproxy .
#   docker run -p 53:53/udp -p 53:53/tcp dotproxy
#
# linux/amd64 only: deploy/scratch-libs.txt lists amd64 library paths and the build fails elsewhere.

# The Debian variant, pinned: the libraries copied into the image come from its glibc, and it has
# apt for libcap2-bin (setcap).
FROM denoland/deno:debian-2.9.6 AS build
RUN apt-get update \
  && apt-get install -y --no-install-recommends libcap2-bin \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY deno.json deno.lock main.ts ./
COPY src ./src
# `deno compile` with --unstable-net and exactly --allow-net --allow-read --allow-env --allow-ffi
# (deno.json; ffi for the SO_REUSEPORT UDP sockets of --workers).
RUN deno task compile
COPY deploy/scratch-libs.txt deploy/scratch-rootfs.sh ./deploy/
# /rootfs = /dotproxy (setcap cap_net_bind_service=+ep) + the files in scratch-libs.txt.
RUN sh deploy/scratch-rootfs.sh /src/dotproxy /rootfs

FROM scratch
# BuildKit's COPY keeps the security.capability extended attribute set by setcap above.
COPY --from=build /rootfs/ /
# Numeric, because there is no /etc/passwd; the file capability lets it bind port 53.
USER 65532:65532
# Every setting can be overridden with `docker run -e DOTPROXY_...=...` (docs/deployment.md).
# 0.0.0.0 rather than "::": on Linux a "::" socket is dual-stack and the two cannot share a port.
# MALLOC_ARENA_MAX=2: glibc malloc's per-thread arenas cost 5-10 MiB at peak (docs/performance.md,
# "Memory"); it must come from the environment, glibc reads it before the proxy's code runs.
ENV DOTPROXY_LISTEN=0.0.0.0 \
  DOTPROXY_PORT=53 \
  DOTPROXY_HTTP=0.0.0.0:9153 \
  DOTPROXY_LOG_FORMAT=json \
  DOTPROXY_LAMEDUCK=5000 \
  MALLOC_ARENA_MAX=2
EXPOSE 53/udp 53/tcp 9153/tcp
# `dotproxy healthcheck` queries id.server. CH TXT at DOTPROXY_LISTEN/DOTPROXY_PORT (0.0.0.0 means
# 127.0.0.1), which the proxy answers itself: an upstream outage does not mark it unhealthy.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/dotproxy", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/dotproxy"]
