/**
 * What the forwarder needs of an upstream, whatever its transport.
 *
 * @module
 */

import type { MessageLayout } from "../wire/message.ts";
import type { HistogramSeries } from "../observability/metrics_registry.ts";
import type { UpstreamFailure } from "./upstream_error.ts";
import type { ReplyListener } from "./reply_listener.ts";
import type { UpstreamHealth } from "./health.ts";

/** Per-upstream series, found once per upstream. */
export interface UpstreamSeries {
  readonly sent: { inc(): void };
  readonly duration: HistogramSeries;
  readonly opened: { inc(): void };
  /** A TLS connection was closed unused because the server's key matched no pin. */
  readonly pinMismatch: { inc(): void };
  /** Plaintext replies dropped for a wrong source, ID or question (RFC 5452). */
  readonly forged: { inc(): void };
  /** Hedges sent to this upstream (also counted in `sent`). */
  readonly hedged: { inc(): void };
  /** Hedges to this upstream whose answer was the one used. */
  readonly hedgeWon: { inc(): void };
  /** Queries sent again on a fresh connection after this upstream closed one under them. */
  readonly resent: { inc(): void };
  failed(reason: UpstreamFailure): void;
}

/**
 * An upstream resolver. All methods are safe to call concurrently; the
 * frame given to `send` must not change until its listener is told.
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
   * Sends a framed query (see `buildUpstreamFrame`); the listener is told
   * its matched reply, or the failure as an `UpstreamError` with its reason.
   */
  send(frame: Uint8Array, layout: MessageLayout, timeoutMs: number, listener: ReplyListener): void;
  /** Closes connections and stops probing. */
  close(): Promise<void>;
}
