/**
 * Why an exchange with an upstream failed. One class with a reason rather
 * than one class per reason: callers react to the reason (resend, fail over,
 * count it under that label) and log the message.
 *
 * @module
 */

/** Reasons an exchange with an upstream can fail; also metric label values. */
export type UpstreamFailure =
  | "connect" // TCP connection refused, unreachable or timed out
  | "tls" // handshake failed: certificate not trusted, wrong name, protocol alert
  | "timeout" // no answer before the attempt's deadline
  | "closed" // the connection ended before the answer came (often a server's idle close)
  | "bad-reply" // an answer that does not match the query, or garbage
  | "rejected" // the upstream refused the question itself (FORMERR, REFUSED or NOTIMP without it)
  | "busy"; // every connection to the upstream is full: local overload, not the upstream's fault

/**
 * An exchange with an upstream failed.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { UpstreamError } from "./upstream_error.ts";
 *
 * const error = new UpstreamError("timeout", "1.1.1.1:853", "No answer within 2000 ms");
 * assert.equal(error.reason, "timeout");
 * assert.equal(error.message, "1.1.1.1:853: No answer within 2000 ms");
 * ```
 */
export class UpstreamError extends Error {
  /** What kind of failure this is. */
  readonly reason: UpstreamFailure;
  /** The upstream, as configured. */
  readonly upstream: string;

  /**
   * @param reason What kind of failure this is.
   * @param upstream The upstream's label.
   * @param detail What happened.
   * @param options The underlying error, if any.
   */
  constructor(reason: UpstreamFailure, upstream: string, detail: string, options?: ErrorOptions) {
    super(`${upstream}: ${detail}`, options);
    this.name = "UpstreamError";
    this.reason = reason;
    this.upstream = upstream;
  }
}
