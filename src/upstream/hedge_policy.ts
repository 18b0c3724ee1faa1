/**
 * When the forwarder may hedge a query (`--hedge off|auto|MS`): the delay
 * for each upstream, fixed or learned from its recent round-trip times
 * (hedge_delay.ts), and the budget that keeps hedges to a share of queries.
 *
 * The budget is a token bucket: each query that could be hedged adds 0.05
 * of a token, a hedge takes a whole one, and the bucket holds at most
 * {@linkcode HEDGE_BURST}. Over any run of n such queries at most 0.05 n + 1
 * hedges go out, so an upstream that stalls for everyone (or a storm of
 * queries) never doubles the load on the others.
 *
 * @module
 */

import { HedgeClock, type HedgeWaiter } from "./hedge_clock.ts";
import { RttWindow } from "./hedge_delay.ts";
import type { Upstream } from "./upstream.ts";

/** `--hedge`: off, learned delays, or a fixed delay in milliseconds. */
export type HedgeMode = "off" | "auto" | number;

/** Share of the queries that could be hedged which may be. */
export const HEDGE_SHARE = 0.05;
/** Hedges the budget holds at most, for slow moments that come in bursts. */
export const HEDGE_BURST = 5;

/** What hedging keeps per upstream: its recent round-trip times and the clock of its waiting queries. */
export class UpstreamHedging<T extends HedgeWaiter<T>> {
  /** Recent round-trip times, and the delay they give. */
  readonly rtt: RttWindow = new RttWindow();
  /** The queries sent to this upstream that wait for their hedge time. */
  readonly clock: HedgeClock<T> = new HedgeClock<T>();
}

/**
 * The hedging settings and state of one forwarder.
 *
 * @example A fixed delay and the budget
 * ```ts
 * import assert from "node:assert/strict";
 * import { HedgePolicy } from "./hedge_policy.ts";
 *
 * const policy = new HedgePolicy(50);
 * assert.equal(policy.enabled, true);
 * let hedges = 0;
 * for (let i = 0; i < 100; i++) {
 *   policy.credit();
 *   if (policy.take()) hedges++;
 * }
 * assert.equal(hedges, 6); // one to start with, then one per 20 queries
 * ```
 */
export class HedgePolicy<T extends HedgeWaiter<T> = never> {
  readonly #fixedMs: number | undefined;
  readonly #enabled: boolean;
  /** Per upstream, made on first use; a WeakMap so that upstreams retired by a reload go. */
  readonly #upstreams = new WeakMap<Upstream, UpstreamHedging<T>>();
  /** Hedges that may go out now; one to start with, so that the first stall is hedged too. */
  #tokens = 1;

  /** @param mode `off`, `auto` (learned delays) or a fixed delay in milliseconds. */
  constructor(mode: HedgeMode) {
    this.#enabled = mode !== "off";
    this.#fixedMs = typeof mode === "number" ? mode : undefined;
  }

  /** Whether queries are hedged at all. */
  get enabled(): boolean {
    return this.#enabled;
  }

  /** A query that could be hedged is on its way: the budget grows by its share. */
  credit(): void {
    const tokens = this.#tokens + HEDGE_SHARE;
    this.#tokens = tokens > HEDGE_BURST ? HEDGE_BURST : tokens;
  }

  /**
   * Takes one hedge from the budget.
   *
   * @returns Whether the budget allowed it.
   */
  take(): boolean {
    // A little below one: sums of twentieths are not exact in binary.
    if (this.#tokens < 1 - 1e-9) return false;
    this.#tokens -= 1;
    return true;
  }

  /**
   * What hedging keeps for one upstream.
   *
   * @param upstream The upstream.
   * @returns Its round-trip times and clock.
   */
  of(upstream: Upstream): UpstreamHedging<T> {
    let state = this.#upstreams.get(upstream);
    if (state === undefined) this.#upstreams.set(upstream, state = new UpstreamHedging<T>());
    return state;
  }

  /**
   * How long to wait for an upstream before hedging.
   *
   * @param state The upstream's hedging state.
   * @returns The delay in milliseconds.
   */
  delayMs(state: UpstreamHedging<T>): number {
    return this.#fixedMs ?? state.rtt.delayMs;
  }
}
