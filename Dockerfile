# Minimal image for now; the packaging issue turns this into a FROM scratch build.
# Build: docker build -t dotproxy .   Run: docker run -p 53:53/udp -p 53:53/tcp dotproxy
FROM denoland/deno:2.9.6 AS build
WORKDIR /src
COPY deno.json deno.lock main.ts ./
COPY src ./src
RUN deno task compile

# Runs as root for now so that it can bind port 53; the packaging issue adds a non-root user
# with cap_net_bind_service.
FROM gcr.io/distroless/cc-debian12
COPY --from=build /src/dotproxy /dotproxy
EXPOSE 53/udp 53/tcp
ENTRYPOINT ["/dotproxy", "--listen", "0.0.0.0", "--port", "53"]
