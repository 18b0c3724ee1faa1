/**
 * Sends a client's query to the upstreams until one answers or the query's
 * deadline passes: healthy upstreams in configured order, a fresh connection
 * when a reused one closed before answering (RFC 7858 §3.4), the next
 * upstream on any other failure.
 *
 * @module
 */

import type { MessageLayout } from "../wire/message.ts";
import { buildUpstreamFrame } from "../wire/upstream_query.ts";
import type { Exchanged } from "./dot_connection.ts";
import type { DotUpstream } from "./dot_upstream.ts";
import { UpstreamError } from "./upstream_error.ts";

/** A reply and the upstream that gave it. */
export interface Forwarded extends Exchanged {
  /** Label of the upstream that answered. */
  readonly upstream: string;
}

/** Settings of the forwarder. */
export interface ForwarderOptions {
  /** The upstreams, in order of preference. */
  readonly upstreams: readonly DotUpstream[];
  /** Deadline for one client query across all attempts (`--timeout`). */
  readonly timeoutMs: number;
  /** Deadline of one attempt, so that a stalled upstream leaves time for another. @default {2000} */
  readonly attemptTimeoutMs?: number;
}

/** Resends after a connection closed before its answer, per query. */
const MAX_RESENDS_ON_CLOSE = 2;

/** Forwards queries to DNS-over-TLS upstreams with failover. */
export class Forwarder {
  readonly #upstreams: readonly DotUpstream[];
  readonly #timeoutMs: number;
  readonly #attemptTimeoutMs: number;

  /** @param options Upstreams and deadlines. */
  constructor(options: ForwarderOptions) {
    this.#upstreams = options.upstreams;
    this.#timeoutMs = options.timeoutMs;
    this.#attemptTimeoutMs = Math.min(options.attemptTimeoutMs ?? 2000, options.timeoutMs);
  }

  /**
   * Forwards a query.
   *
   * @param query The client's query.
   * @param layout Its layout (exactly one question).
   * @returns The first matching reply, or null when no upstream answered in time.
   */
  async forward(query: Uint8Array, layout: MessageLayout): Promise<Forwarded | null> {
    const deadline = performance.now() + this.#timeoutMs;
    const maxAttempts = 2 * this.#upstreams.length;
    let frame = buildUpstreamFrame(query, layout);
    let sent = 0;
    let attempts = 0;
    let resends = 0;
    let next = 0;
    while (attempts < maxAttempts) {
      const upstream = this.#pick(next);
      const remaining = deadline - performance.now();
      if (upstream === undefined || remaining <= 0) return null;
      // A previous write of this frame may still be queued on another
      // connection with another ID in it: give each send its own copy.
      if (sent++ > 0) frame = frame.slice();
      const signal = AbortSignal.timeout(Math.min(this.#attemptTimeoutMs, remaining));
      try {
        const exchanged = await upstream.exchange(frame, layout, signal);
        upstream.health.recordSuccess();
        return { ...exchanged, upstream: upstream.label };
      } catch (error) {
        if (!(error instanceof UpstreamError)) throw error;
        if (error.reason === "closed" && resends++ < MAX_RESENDS_ON_CLOSE) continue;
        upstream.health.recordFailure(error);
        attempts++;
        next = this.#upstreams.indexOf(upstream) + 1;
      }
    }
    return null;
  }

  /** The first healthy upstream at or after position `from`, wrapping around. */
  #pick(from: number): DotUpstream | undefined {
    const count = this.#upstreams.length;
    for (let i = 0; i < count; i++) {
      const upstream = this.#upstreams[(from + i) % count]!;
      if (upstream.health.up) return upstream;
    }
    return undefined;
  }
}
