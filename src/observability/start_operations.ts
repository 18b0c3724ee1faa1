/**
 * The operations endpoint of a running proxy: `/metrics`, `/readyz` from
 * its lifecycle, and `/healthz` with one line per upstream.
 *
 * @module
 */

import type { Routing } from "../routing/routing.ts";
import type { Upstream } from "../upstream/upstream.ts";
import type { ProxyMetrics } from "./proxy_metrics.ts";
import { type HttpEndpoint, startHttpServer } from "./http_server.ts";

/** What says whether the proxy takes traffic (the proxy's lifecycle). */
export interface Readiness {
  /** Null while the proxy takes traffic, else why a load balancer should stop sending. */
  notReadyReason(): string | null;
}

/**
 * Step 4 of start-up (see proxy.ts): `/metrics`, `/healthz` and `/readyz`.
 * Readiness says whether this process can serve (started, listening, not
 * draining), not whether its upstreams answer: in a node-local pool every
 * pod would turn unready at once during an upstream outage and the Service
 * would stop sending the queries that cached and stale answers could still
 * serve. Upstream health is shown on its own: `dotproxy_upstream_up` and the
 * `/healthz` body.
 *
 * @param address Where to listen (`--http`).
 * @param metrics Every metric of the proxy.
 * @param routing The upstreams in use (they change on reload).
 * @param readiness Whether the proxy takes traffic.
 * @returns The running endpoint.
 */
export function startOperations(
  address: { readonly hostname: string; readonly port: number },
  metrics: ProxyMetrics,
  routing: Routing,
  readiness: Readiness,
): HttpEndpoint {
  return startHttpServer({
    ...address,
    metrics: () => metrics.registry.render(),
    notReadyReason: () => readiness.notReadyReason(),
    healthDetail: () => upstreamHealthReport(routing.upstreams),
  });
}

/** One line per upstream: up or down, and how long ago it last answered. */
function upstreamHealthReport(upstreams: readonly Upstream[]): string {
  const now = performance.now();
  return upstreams.map((upstream) => {
    const state = upstream.health.up ? "up" : "down";
    const since = upstream.health.lastSuccessAt;
    const answered = since === null
      ? "never answered"
      : `answered ${((now - since) / 1000).toFixed(1)} s ago`;
    return `upstream ${upstream.label} ${state} (${answered})\n`;
  }).join("");
}
