/**
 * Sends a client's query to the upstreams until one answers or the query's
 * deadline passes: healthy upstreams in the group's order (all of them when
 * every one looks down), a fresh connection when a reused one closed before
 * answering (RFC 7858 §3.4), the next upstream on any other failure. With
 * two or more healthy upstreams, a query the first has not answered within
 * its hedge delay goes to the next one as well, and the first valid answer
 * wins (hedge_policy.ts).
 *
 * @module
 */

import type { MessageLayout } from "../wire/message.ts";
import { buildUpstreamFrame } from "../wire/upstream_query.ts";
import type { AttemptSpan, AttemptTrace, AttemptTracing } from "./attempt_trace.ts";
import type { Exchanged, ReplyListener } from "./reply_listener.ts";
import type { HedgeWaiter } from "./hedge_clock.ts";
import { type HedgeMode, HedgePolicy, type UpstreamHedging } from "./hedge_policy.ts";
import type { Upstream } from "./upstream.ts";
import type { UpstreamGroup } from "./upstream_group.ts";
import { UpstreamError } from "./upstream_error.ts";

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
  /** Ask every upstream query with DO=1 (the proxy validates DNSSEC). @default {false} */
  readonly dnssecOk?: boolean;
  /** `--hedge`: off, delays learned per upstream, or a fixed delay in ms. @default {"auto"} */
  readonly hedge?: HedgeMode;
  /** A span per attempt, under the query's (OpenTelemetry); none when absent. */
  readonly tracing?: AttemptTracing;
}

/** Told the outcome of {@linkcode Forwarder.forward}, once. */
export interface ForwardListener {
  /**
   * @param forwarded The reply, or null when no upstream answered in time.
   * @param error Set when something other than an upstream failed (a bug).
   */
  forwarded(forwarded: Forwarded | null, error?: unknown): void;
}

/** Resends after a connection closed before its answer, per query. */
const MAX_RESENDS_ON_CLOSE = 2;

/** Forwards queries to a group of upstreams with failover and hedging. */
export class Forwarder {
  readonly #timeoutMs: number;
  readonly #attemptTimeoutMs: number;
  readonly #dnssecOk: boolean;
  /** Null when `--hedge off`. */
  readonly #hedging: HedgePolicy<Forwarding> | null;
  readonly #tracing: AttemptTracing | null;

  /** @param options Deadlines, hedging and tracing. */
  constructor(options: ForwarderOptions) {
    this.#timeoutMs = options.timeoutMs;
    this.#dnssecOk = options.dnssecOk ?? false;
    this.#attemptTimeoutMs = Math.min(options.attemptTimeoutMs ?? 2000, options.timeoutMs);
    const hedging = new HedgePolicy<Forwarding>(options.hedge ?? "auto");
    this.#hedging = hedging.enabled ? hedging : null;
    this.#tracing = options.tracing ?? null;
  }

  /**
   * The hedge delay used now for an upstream, fixed or learned from its
   * round-trip times (for diagnostics and tests).
   *
   * @param upstream The upstream.
   * @returns Milliseconds, or null when hedging is off.
   */
  hedgeDelayMs(upstream: Upstream): number | null {
    return this.#hedging === null ? null : this.#hedging.delayMs(this.#hedging.of(upstream));
  }

  /**
   * Forwards a query to the upstreams of a group, in the order its policy
   * gives, each attempt with its own deadline, until one answers or the
   * query's deadline passes; hedges it to the next upstream when the one
   * under way is slow (see {@linkcode ForwarderOptions.hedge}).
   *
   * @param query The client's query.
   * @param layout Its layout (exactly one question).
   * @param group The upstreams that serve this name.
   * @param now When the query arrived (`performance.now()`), where its deadline starts.
   * @param listener Told the first matching reply, or null when no upstream answered in time.
   */
  forward(
    query: Uint8Array,
    layout: MessageLayout,
    group: UpstreamGroup,
    now: number,
    listener: ForwardListener,
  ): void {
    const frame = buildUpstreamFrame(query, layout, this.#dnssecOk);
    new Forwarding(
      frame,
      layout,
      group,
      now,
      now + this.#timeoutMs,
      this.#attemptTimeoutMs,
      this.#hedging,
      listener,
      this.#tracing === null ? null : this.#tracing.attempts(),
    ).next();
  }
}

/**
 * One query on its way through the upstreams: the attempts so far, and the
 * listener of the attempt under way.
 *
 * One object per query, told the outcome by the connection itself, rather
 * than an async function awaiting a promise per attempt: whatever waits for
 * an upstream's reply outlives a young-generation collection or two, and
 * each object that waits with it costs copying and promotion. With the
 * handler, the resolver and the UDP frontend also waiting on callbacks
 * instead of promises, pinned A/B runs (dnsperf -c 10 -q 200, unique names
 * over UDP, 8 s, local Unbound over TLS, three runs each) went from 56-58k
 * to 59-61k queries per second and from 17.1-17.6 to 16.0-16.7 CPU-ms per
 * 1000 queries.
 *
 * The same object waits on the clock of its upstream for the hedge time
 * (hedge_clock.ts); only a query actually hedged gets a second object, the
 * {@linkcode HedgeAttempt} that listens for the other upstream's reply.
 */
class Forwarding implements ReplyListener, HedgeWaiter<Forwarding> {
  readonly #layout: MessageLayout;
  readonly #group: UpstreamGroup;
  readonly #order: readonly Upstream[];
  readonly #arrivedAt: number;
  readonly #deadline: number;
  readonly #attemptTimeoutMs: number;
  readonly #listener: ForwardListener;
  /** Hedging, when it is on and the order has another upstream to hedge to. */
  readonly #hedging: HedgePolicy<Forwarding> | null;
  /** Told of each attempt when tracing is on; null otherwise. */
  readonly #trace: AttemptTrace | null;
  /** The span of the attempt under way (when tracing). */
  #span: AttemptSpan | null = null;
  #frame: Uint8Array;
  /** Index into the order of the upstream tried next (or now). */
  #index = 0;
  #sent = 0;
  #attempts = 0;
  #resends = 0;
  /** The upstream of the attempt under way, and when it started. */
  #upstream: Upstream | undefined;
  #started = 0;
  /** The hedging state of that upstream (when hedging). */
  #upstreamHedging: UpstreamHedging<Forwarding> | null = null;
  /** The hedge, once sent: at most one per query. */
  #hedge: HedgeAttempt | null = null;
  /** Attempts sent whose outcome is not known yet (the one under way and the hedge). */
  #outstanding = 0;
  /** Set once the listener is told. */
  #finished = false;
  /** Neighbours on the hedge clock, and when the hedge is due (-1: not waiting). */
  older: Forwarding | null = null;
  newer: Forwarding | null = null;
  hedgeAt = -1;

  constructor(
    frame: Uint8Array,
    layout: MessageLayout,
    group: UpstreamGroup,
    arrivedAt: number,
    deadline: number,
    attemptTimeoutMs: number,
    hedging: HedgePolicy<Forwarding> | null,
    listener: ForwardListener,
    trace: AttemptTrace | null,
  ) {
    this.#frame = frame;
    this.#layout = layout;
    this.#group = group;
    this.#order = group.order();
    this.#arrivedAt = arrivedAt;
    this.#deadline = deadline;
    this.#attemptTimeoutMs = attemptTimeoutMs;
    this.#listener = listener;
    this.#hedging = hedging !== null && this.#order.length > 1 ? hedging : null;
    this.#hedging?.credit();
    this.#trace = trace;
  }

  /** Sends the next attempt, or tells the caller that none is left. */
  next(): void {
    const order = this.#order;
    // Each upstream of the order is tried at most twice.
    for (; this.#attempts < 2 * order.length; this.#index++) {
      const upstream = order[this.#index % order.length];
      // Until the first attempt is sent, the arrival time is still the time.
      const started = this.#sent === 0 ? this.#arrivedAt : performance.now();
      const remaining = this.#deadline - started;
      if (upstream === undefined || remaining <= 0) return this.#finish(null);
      // Skip an upstream marked down since the order was made, unless every
      // upstream of the order looks down: then send anyway (see UpstreamGroup).
      if (!upstream.health.up && order.some((candidate) => candidate.health.up)) continue;
      // A previous write of this frame may still be queued on another
      // connection with another ID in it: give each send its own copy.
      if (this.#sent++ > 0) this.#frame = this.#frame.slice();
      this.#upstream = upstream;
      this.#started = started;
      this.#outstanding++;
      upstream.metrics.sent.inc();
      if (this.#trace !== null) this.#span = this.#trace.sent(upstream, false);
      if (this.#hedging !== null) {
        // The state of this attempt's upstream, whose round-trip time the
        // reply records; on the clock only while no hedge has gone out (one per query).
        const state = this.#upstreamHedging = this.#hedging.of(upstream);
        if (this.#hedge === null) state.clock.add(this, started + this.#hedging.delayMs(state));
      }
      // The last step: the upstream may report a failure at once, which
      // calls next() again.
      return upstream.send(
        this.#frame,
        this.#layout,
        Math.min(this.#attemptTimeoutMs, remaining),
        this,
      );
    }
    this.#finish(null);
  }

  /** The attempt's reply (see {@linkcode ReplyListener}). */
  replied(reply: Uint8Array, layout: MessageLayout, rttMs: number): void {
    this.#span?.replied(rttMs);
    this.#outstanding--;
    this.#upstreamHedging?.clock.remove(this);
    this.#upstreamHedging?.rtt.record(rttMs);
    this.#answered(this.#upstream!, this.#started, reply, layout, rttMs);
  }

  /** The attempt failed: resend, or try the next upstream (see {@linkcode ReplyListener}). */
  failed(error: unknown): void {
    this.#span?.failed(error);
    this.#outstanding--;
    this.#upstreamHedging?.clock.remove(this);
    if (!(error instanceof UpstreamError)) return this.#finish(null, error);
    const upstream = this.#upstream!;
    upstream.metrics.failed(error.reason);
    if (error.reason === "closed" && this.#resends < MAX_RESENDS_ON_CLOSE) {
      if (this.#finished || this.#outstanding > 0) return; // the hedge carries on
      this.#resends++;
      upstream.metrics.resent.inc();
      return this.next(); // the same upstream again, on a fresh connection
    }
    this.#failedOn(upstream, error, this.#started);
  }

  /** The attempt under way waits for a new connection (see {@linkcode ReplyListener}). */
  newConnection(): void {
    this.#span?.newConnection();
  }

  /**
   * The hedge time of the attempt under way has come and it is still
   * unanswered: send the query to the next healthy upstream of the order
   * too, if the budget allows. Never to the same upstream, and never when
   * no other upstream is up.
   */
  hedgeDue(): void {
    if (this.#finished || this.#hedge !== null || this.#outstanding !== 1) return;
    const now = performance.now();
    const remaining = this.#deadline - now;
    const order = this.#order;
    for (let step = 1; step < order.length && remaining > 0; step++) {
      const upstream = order[(this.#index + step) % order.length]!;
      if (upstream === this.#upstream || !upstream.health.up) continue;
      if (!this.#hedging!.take()) return;
      const hedge = this.#hedge = new HedgeAttempt(this, upstream, now);
      if (this.#trace !== null) hedge.span = this.#trace.sent(upstream, true);
      this.#outstanding++;
      upstream.metrics.sent.inc();
      upstream.metrics.hedged.inc();
      // Its own copy: the attempt under way keeps its ID in the frame.
      const frame = this.#frame.slice();
      return upstream.send(frame, this.#layout, Math.min(this.#attemptTimeoutMs, remaining), hedge);
    }
  }

  /** The hedge's reply: the answer, unless the attempt under way answered first. */
  hedgeReplied(hedge: HedgeAttempt, reply: Uint8Array, layout: MessageLayout, rttMs: number): void {
    hedge.span?.replied(rttMs);
    this.#outstanding--;
    this.#hedging!.of(hedge.upstream).rtt.record(rttMs);
    if (!this.#finished) hedge.upstream.metrics.hedgeWon.inc();
    this.#answered(hedge.upstream, hedge.started, reply, layout, rttMs);
  }

  /** The hedge failed: wait for the attempt under way, or go on to the next upstream. */
  hedgeFailed(hedge: HedgeAttempt, error: unknown): void {
    hedge.span?.failed(error);
    this.#outstanding--;
    if (!(error instanceof UpstreamError)) return this.#finish(null, error);
    hedge.upstream.metrics.failed(error.reason);
    // Not resent, and not counted against health: a close under a query is
    // a server's idle close far more often than an upstream in trouble.
    if (error.reason === "closed") return this.#goOn();
    this.#failedOn(hedge.upstream, error, hedge.started);
  }

  /** A reply from either attempt: counted, and the answer if it is the first. */
  #answered(
    upstream: Upstream,
    started: number,
    reply: Uint8Array,
    layout: MessageLayout,
    rttMs: number,
  ): void {
    upstream.metrics.duration.observe(rttMs / 1000);
    this.#group.recordRtt(upstream, rttMs);
    // The reply's arrival time, known without reading the clock again.
    upstream.health.recordSuccess(started + rttMs);
    this.#finish({ reply, layout, rttMs, upstream: upstream.label });
  }

  /** An attempt failed for good: count it, then go on unless another attempt may still answer. */
  #failedOn(upstream: Upstream, error: UpstreamError, started: number): void {
    if (error.reason === "timeout") {
      const waited = performance.now() - started;
      this.#group.recordRtt(upstream, waited);
      this.#hedging?.of(upstream).rtt.record(waited);
    }
    upstream.health.recordFailure(error, started);
    this.#goOn();
  }

  /** The next attempt, unless an answer came or another attempt may still bring one. */
  #goOn(): void {
    if (this.#finished || this.#outstanding > 0) return;
    this.#attempts++;
    this.#index++;
    this.next();
  }

  /** Tells the listener, once. */
  #finish(forwarded: Forwarded | null, error?: unknown): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#listener.forwarded(forwarded, error);
  }
}

/**
 * The listener of a hedge: the second attempt of a query, sent while the
 * first is still under way. It hands its outcome to its {@linkcode Forwarding}.
 */
class HedgeAttempt implements ReplyListener {
  /** Its span, when tracing. */
  span: AttemptSpan | null = null;

  /**
   * @param forwarding The query.
   * @param upstream Where the hedge went.
   * @param started When it was sent.
   */
  constructor(
    readonly forwarding: Forwarding,
    readonly upstream: Upstream,
    readonly started: number,
  ) {}

  /** The hedge's reply (see {@linkcode ReplyListener}). */
  replied(reply: Uint8Array, layout: MessageLayout, rttMs: number): void {
    this.forwarding.hedgeReplied(this, reply, layout, rttMs);
  }

  /** The hedge failed (see {@linkcode ReplyListener}). */
  failed(error: unknown): void {
    this.forwarding.hedgeFailed(this, error);
  }

  /** The hedge waits for a new connection (see {@linkcode ReplyListener}). */
  newConnection(): void {
    this.span?.newConnection();
  }
}
