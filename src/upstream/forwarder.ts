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
import type { UpstreamGroup } from "./upstream_group.ts";
import { countsAgainstHealth, UpstreamError } from "./upstream_error.ts";

/** A reply and the upstream that gave it. */
export interface Forwarded extends Exchanged {
  /** Label of the upstream that answered. */
  readonly upstream: string;
}

/** Settings of the forwarder. */
export interface ForwarderOptions {
  /** Deadline for one client query across all attempts (`--timeout`). */
  readonly timeoutMs: number;
  /** Deadline of one attempt, so that a stalled upstream leaves time for another. @default {2000} */
  readonly attemptTimeoutMs?: number;
}

/** Resends after a connection closed before its answer, per query. */
const MAX_RESENDS_ON_CLOSE = 2;

/** Forwards queries to a group of upstreams with failover. */
export class Forwarder {
  readonly #timeoutMs: number;
  readonly #attemptTimeoutMs: number;

  /** @param options Deadlines. */
  constructor(options: ForwarderOptions) {
    this.#timeoutMs = options.timeoutMs;
    this.#attemptTimeoutMs = Math.min(options.attemptTimeoutMs ?? 2000, options.timeoutMs);
  }

  /**
   * Forwards a query to the upstreams of a group, in the order its policy
   * gives, each attempt with its own deadline, until one answers or the
   * query's deadline passes.
   *
   * @param query The client's query.
   * @param layout Its layout (exactly one question).
   * @param group The upstreams that serve this name.
   * @param now When the query arrived (`performance.now()`), where its deadline starts.
   * @returns The first matching reply, or null when no upstream answered in time.
   */
  async forward(
    query: Uint8Array,
    layout: MessageLayout,
    group: UpstreamGroup,
    now = performance.now(),
  ): Promise<Forwarded | null> {
    const deadline = now + this.#timeoutMs;
    const order = group.order();
    const maxAttempts = 2 * order.length;
    let frame = buildUpstreamFrame(query, layout);
    let sent = 0;
    let attempts = 0;
    let resends = 0;
    for (let i = 0; attempts < maxAttempts; i++) {
      const upstream = order[i % order.length];
      // Until the first attempt has been awaited, `now` is still the time.
      const started = sent === 0 ? now : performance.now();
      const remaining = deadline - started;
      if (upstream === undefined || remaining <= 0) return null;
      if (!upstream.health.up) {
        if (!order.some((candidate) => candidate.health.up)) return null;
        continue;
      }
      // A previous write of this frame may still be queued on another
      // connection with another ID in it: give each send its own copy.
      if (sent++ > 0) frame = frame.slice();
      const timeoutMs = Math.min(this.#attemptTimeoutMs, remaining);
      const { metrics } = upstream;
      metrics.sent.inc();
      try {
        const exchanged = await upstream.exchange(frame, layout, timeoutMs);
        metrics.duration.observe(exchanged.rttMs / 1000);
        group.recordRtt(upstream, exchanged.rttMs);
        upstream.health.recordSuccess();
        return { ...exchanged, upstream: upstream.label };
      } catch (error) {
        if (!(error instanceof UpstreamError)) throw error;
        metrics.failed(error.reason);
        if (error.reason === "closed" && resends++ < MAX_RESENDS_ON_CLOSE) {
          i--; // the same upstream again, on a fresh connection
          continue;
        }
        if (error.reason === "timeout") group.recordRtt(upstream, performance.now() - started);
        if (countsAgainstHealth(error.reason)) upstream.health.recordFailure(error);
        attempts++;
      }
    }
    return null;
  }
}
