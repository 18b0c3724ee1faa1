/**
 * What the forwarder tells a trace about the attempts of one query (one
 * span each when OpenTelemetry tracing is on). Declared here, where it is
 * used, so that the forwarder needs nothing of the tracing library; it is
 * implemented in `observability/query_tracer.ts`.
 *
 * @module
 */

import type { Upstream } from "./upstream.ts";

/** The attempts of one query. */
export interface AttemptTrace {
  /**
   * An attempt starts: the query is handed to `upstream`.
   *
   * @param upstream Where it goes.
   * @param hedge Whether it is a hedge, sent while another attempt is under way.
   * @returns The attempt's span, told its outcome.
   */
  sent(upstream: Upstream, hedge: boolean): AttemptSpan;
}

/** One attempt, told its outcome once: `replied` or `failed`. */
export interface AttemptSpan {
  /** The attempt waits for a new connection to the upstream. */
  newConnection(): void;
  /** The attempt got its reply after `rttMs`. */
  replied(rttMs: number): void;
  /** The attempt failed (an `UpstreamError`, or a bug). */
  failed(error: unknown): void;
}

/** Makes the trace of a query's attempts; given to the forwarder when tracing is on. */
export interface AttemptTracing {
  /**
   * @returns The trace of the attempts of the query being handled now (its
   * span is the active context), or null when there is none.
   */
  attempts(): AttemptTrace | null;
}
