/**
 * The operations endpoint (`--http ADDR:PORT`): Prometheus metrics,
 * liveness and readiness, as CoreDNS's `prometheus`, `health` and `ready`
 * plugins serve them, so that orchestrators can probe the proxy.
 *
 * @module
 */

import { getLogger } from "../log.ts";

const log = getLogger("http");

/** What the endpoint serves. */
export interface HttpServerOptions {
  readonly hostname: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  /** Renders the metrics in the Prometheus text format. */
  readonly metrics: () => string | Promise<string>;
  /** Null when the proxy is ready, else a short reason why not. */
  readonly notReadyReason: () => string | null;
  /** Lines after `ok` in the `/healthz` body: the upstreams' state, for people. */
  readonly healthDetail?: () => string;
}

/** A running endpoint. */
export interface HttpEndpoint {
  readonly addr: Deno.NetAddr;
  /** Stops listening and finishes requests in progress. */
  shutdown(): Promise<void>;
}

/**
 * Starts the endpoint:
 * - `GET /metrics`: Prometheus text exposition format 0.0.4;
 * - `GET /healthz`: 200 while the process serves (liveness), with each upstream's state below `ok`;
 * - `GET /readyz`: 200 when the proxy is ready for traffic (listening, not draining), 503 with
 *   the reason otherwise. Upstream health does not change it.
 *
 * @param options Address and content.
 * @returns The running endpoint.
 */
export function startHttpServer(options: HttpServerOptions): HttpEndpoint {
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    onListen: () => {},
    onError: (error) => {
      log.error("HTTP request failed: {error}", { error });
      return new Response("internal error\n", { status: 500 });
    },
  }, (request) => route(request, options));
  log.info("Serving /metrics, /healthz and /readyz on {address} port {port}", {
    address: server.addr.hostname,
    port: server.addr.port,
  });
  return { addr: server.addr, shutdown: () => server.shutdown() };
}

async function route(request: Request, options: HttpServerOptions): Promise<Response> {
  if (request.method !== "GET" && request.method !== "HEAD") {
    return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
  }
  const { pathname } = new URL(request.url);
  switch (pathname) {
    case "/metrics":
      return new Response(await options.metrics(), {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
      });
    case "/healthz":
      return new Response(`ok\n${options.healthDetail?.() ?? ""}`);
    case "/readyz": {
      const reason = options.notReadyReason();
      return reason === null
        ? new Response("ready\n")
        : new Response(`not ready: ${reason}\n`, { status: 503 });
    }
    default:
      return new Response("not found\n", { status: 404 });
  }
}
