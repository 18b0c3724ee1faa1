/**
 * What each worker of `--workers N` starts with: its share of the proxy's
 * limits and the proxy options it is given (the supervisor's own options
 * are defined here too, since the workers' are made from them).
 *
 * @module
 */

import type { Config } from "../config/config.ts";
import { DEFAULT_LIMITS } from "../config/limits.ts";
import { IDLE_PROBE_MS } from "../proxy.ts";
import type { WorkerStart } from "./protocol.ts";

/** What the supervisor starts from. */
export interface SupervisorOptions {
  readonly config: Config;
  /** Workers to run (2 or more). */
  readonly workers: number;
  /** Version reported in `dotproxy_build_info`. */
  readonly version: string;
  /** Each worker traces its queries (OpenTelemetry, `OTEL_DENO=true`). @default {false} */
  readonly tracing?: boolean;
}

/**
 * The limits of one worker of `count`, from the proxy's:
 * - `maxInFlight` and `maxTcpConnections` are the proxy's totals, divided
 *   (rounded up: the proxy may hold up to `count - 1` more);
 * - `upstreamConnections` is divided too (rounded up, at least 1 per
 *   worker), so that the whole proxy opens at most
 *   `count × ceil(upstreamConnections / count)` TLS connections to an upstream;
 * - the per-client limits (`rateLimit`, `rateLimitBurst`,
 *   `maxTcpPerClient`) stay per worker: a client's queries from one socket
 *   all reach one worker, but a client that uses several source ports may be
 *   spread over up to `count` workers, and get up to `count` times as much.
 *
 * @param config The proxy's configuration.
 * @param count Workers.
 * @returns The limits to give each worker.
 */
export function workerShare(
  config: Pick<Config, "maxInFlight" | "maxTcpConnections" | "upstreamConnections">,
  count: number,
): { maxInFlight: number; maxTcpConnections: number; upstreamConnections: number } {
  const share = (total: number) => Math.max(1, Math.ceil(total / count));
  return {
    maxInFlight: share(config.maxInFlight ?? DEFAULT_LIMITS.maxInFlight),
    maxTcpConnections: share(config.maxTcpConnections ?? DEFAULT_LIMITS.maxTcpConnections),
    upstreamConnections: share(config.upstreamConnections ?? DEFAULT_LIMITS.upstreamConnections),
  };
}

/**
 * The proxy options every worker starts with: the configuration without the
 * operations endpoint (the supervisor serves it), each worker's share of the
 * limits, and, when the endpoint is on, the idle upstream probes that keep
 * `dotproxy_upstream_up` current (a worker would not probe without `http`).
 *
 * @param options What the supervisor starts from.
 * @returns The options of each worker.
 */
export function workerOptions(options: SupervisorOptions): WorkerStart["options"] {
  const { config, workers } = options;
  const { http, ...rest } = config;
  return {
    ...rest,
    ...workerShare(config, workers),
    ...(http && { idleProbeMs: IDLE_PROBE_MS }),
    version: options.version,
    tracing: options.tracing ?? false,
  };
}
