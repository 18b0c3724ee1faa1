/**
 * A cap on the client queries the proxy works on at once, shared by every
 * frontend: each query in flight holds memory, a pending upstream exchange
 * and often a timer, so their number is what bounds the proxy's memory when
 * clients send faster than upstreams answer.
 *
 * @module
 */

/**
 * A counter with a ceiling.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { InFlightLimit } from "./in_flight_limit.ts";
 *
 * const limit = new InFlightLimit(1);
 * assert(limit.tryAcquire());
 * assert(!limit.tryAcquire());
 * limit.release();
 * assert.equal(limit.count, 0);
 * ```
 */
export class InFlightLimit {
  readonly #max: number;
  #count = 0;

  /**
   * Creates an empty counter.
   *
   * @param max Queries in flight at most.
   * @throws {RangeError} When `max` is below 1.
   */
  constructor(max: number) {
    if (!(max >= 1)) throw new RangeError(`Cannot limit queries in flight to ${max}: must be >= 1`);
    this.#max = max;
  }

  /** Queries in flight now. */
  get count(): number {
    return this.#count;
  }

  /** The ceiling. */
  get max(): number {
    return this.#max;
  }

  /**
   * Takes a slot.
   *
   * @returns True when a slot was free; the caller must then call {@linkcode release}.
   */
  tryAcquire(): boolean {
    if (this.#count >= this.#max) return false;
    this.#count++;
    return true;
  }

  /**
   * Gives back slots taken by {@linkcode tryAcquire}.
   *
   * @param count How many. @default {1}
   */
  release(count = 1): void {
    this.#count = Math.max(0, this.#count - count);
  }
}
