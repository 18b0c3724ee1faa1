/**
 * What the forwarder needs of an upstream, whatever its transport.
 *
 * @module
 */

import type { MessageLayout } from "../wire/message.ts";
import type { UpstreamSeries } from "../observability/proxy_metrics.ts";
import type { Exchanged } from "./dot_connection.ts";
import type { UpstreamHealth } from "./health.ts";

/**
 * An upstream resolver. All methods are safe to call concurrently; the
 * frame given to `exchange` must not change until the call returns.
 */
export interface Upstream {
  /** The upstream as configured, e.g. `1.1.1.1:853#cloudflare-dns.com` or `udp://10.96.0.10:53`. */
  readonly label: string;
  /** Up/down state, probed while down. */
  readonly health: UpstreamHealth;
  /** This upstream's metric series. */
  readonly metrics: UpstreamSeries;
  /** Connections open now (TLS), for metrics. */
  readonly openConnections: number;
  /** Queries sent and not answered yet, for metrics. */
  readonly inFlight: number;
  /**
   * Sends a framed query (see `buildUpstreamFrame`) and waits for its matched reply.
   *
   * @throws {UpstreamError} On any failure, with its reason.
   */
  exchange(frame: Uint8Array, layout: MessageLayout, timeoutMs: number): Promise<Exchanged>;
  /** Closes connections and stops probing. */
  close(): Promise<void>;
}
