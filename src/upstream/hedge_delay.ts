/**
 * How long to wait for an upstream before hedging a query to another one,
 * learned from the upstream's own recent round-trip times: the 95th
 * percentile of the last 64, within a floor and a cap.
 *
 * The 95th percentile (as in Dean and Barroso, "The Tail at Scale") means
 * that an upstream behaving as usual sends about one query in twenty past
 * its delay, which the hedge budget (5 %) can afford; a query stalled far
 * beyond the usual is hedged after a few usual round trips. The floor keeps
 * jitter on a fast local upstream (well under a millisecond) from hedging;
 * the cap keeps an upstream whose recent answers were slow from never being
 * hedged within the attempt's deadline (2 s).
 *
 * @module
 */

/** Round-trip times kept per upstream. */
const WINDOW = 64;
/** Samples needed before the learned delay replaces the cap. */
const MIN_SAMPLES = 8;
/** The percentile is computed again after this many new samples, not per sample. */
const RECOMPUTE_EVERY = 8;
/** The quantile of recent round-trip times used as the hedge delay. */
const QUANTILE = 0.95;

/** Shortest hedge delay, in milliseconds. */
export const HEDGE_FLOOR_MS = 10;
/** Longest hedge delay, in milliseconds; also the delay until enough samples are in. */
export const HEDGE_CAP_MS = 1000;

/** Shared scratch for sorting: one window at a time, on one thread. */
const scratch = new Float64Array(WINDOW);

/**
 * A ring of an upstream's recent round-trip times and the hedge delay they give.
 *
 * @example Learning the delay
 * ```ts
 * import assert from "node:assert/strict";
 * import { HEDGE_CAP_MS, HEDGE_FLOOR_MS, RttWindow } from "./hedge_delay.ts";
 *
 * const window = new RttWindow();
 * assert.equal(window.delayMs, HEDGE_CAP_MS); // nothing learned yet
 * for (let i = 1; i <= 64; i++) window.record(i); // 1..64 ms
 * assert.equal(window.delayMs, 61); // the 95th percentile
 * for (let i = 0; i < 64; i++) window.record(0.3);
 * assert.equal(window.delayMs, HEDGE_FLOOR_MS);
 * ```
 */
export class RttWindow {
  readonly #samples = new Float64Array(WINDOW);
  /** Samples recorded in all. */
  #count = 0;
  #delayMs = HEDGE_CAP_MS;

  /** The hedge delay in milliseconds: the recent 95th percentile, within the floor and cap. */
  get delayMs(): number {
    return this.#delayMs;
  }

  /**
   * Records one round-trip time (or, for a timeout, the time waited).
   *
   * @param ms Milliseconds.
   */
  record(ms: number): void {
    this.#samples[this.#count % WINDOW] = ms;
    this.#count++;
    if (this.#count >= MIN_SAMPLES && this.#count % RECOMPUTE_EVERY === 0) this.#recompute();
  }

  #recompute(): void {
    const n = Math.min(this.#count, WINDOW);
    const sorted = n === WINDOW ? scratch : scratch.subarray(0, n);
    sorted.set(n === WINDOW ? this.#samples : this.#samples.subarray(0, n));
    sorted.sort();
    const quantile = sorted[Math.ceil(QUANTILE * n) - 1]!;
    this.#delayMs = Math.min(HEDGE_CAP_MS, Math.max(HEDGE_FLOOR_MS, quantile));
  }
}
