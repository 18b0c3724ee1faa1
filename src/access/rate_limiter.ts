/**
 * Per-client query rate limit: a token bucket per client network (Blocky's
 * and dnsproxy's model), in a table whose size has a hard cap, so that a
 * flood from spoofed, ever-changing sources cannot grow it without bound.
 *
 * @module
 */

import type { ClientKey } from "./ip_address.ts";

/** Settings of a {@linkcode RateLimiter}. */
export interface RateLimiterOptions {
  /** Queries per second each client may send on average. */
  readonly qps: number;
  /** Queries a client may send at once after a quiet spell. @default {qps} */
  readonly burst?: number;
  /** Clients tracked at most. @default {65536} */
  readonly maxEntries?: number;
  /** The clock, in milliseconds (tests pass their own). @default {performance.now} */
  readonly now?: () => number;
}

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date. */
  at: number;
}

/**
 * Token buckets by client.
 *
 * A bucket that has been left alone long enough to fill up is the same as no
 * bucket, so a sweep (at most once per refill period, and only when the
 * table is full) drops those. If the table is still full, the oldest entries
 * are dropped: that client then starts again with a full bucket, so being
 * evicted can only make a limit more lenient for a while, never deny anyone.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { RateLimiter } from "./rate_limiter.ts";
 *
 * let now = 0;
 * const limiter = new RateLimiter({ qps: 2, burst: 2, now: () => now });
 * assert(limiter.allow(1) && limiter.allow(1));
 * assert(!limiter.allow(1));
 * assert(limiter.allow(2)); // another client has its own bucket
 * now += 500; // half a second refills one token
 * assert(limiter.allow(1));
 * ```
 */
export class RateLimiter {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #maxEntries: number;
  readonly #refillMs: number;
  readonly #now: () => number;
  /** Buckets in insertion order (Map order), oldest first. */
  readonly #buckets = new Map<ClientKey, Bucket>();
  #lastSweep = -Infinity;

  /**
   * Creates an empty table.
   *
   * @param options Rate, burst and table size.
   * @throws {RangeError} When `qps` or `burst` is not positive.
   */
  constructor(options: RateLimiterOptions) {
    const burst = options.burst || options.qps;
    if (!(options.qps > 0) || !(burst >= 1)) {
      throw new RangeError(`Cannot limit rate: qps ${options.qps} and burst ${burst} must be > 0`);
    }
    this.#perMs = options.qps / 1000;
    this.#burst = burst;
    this.#maxEntries = Math.max(1, options.maxEntries ?? 65536);
    this.#refillMs = Math.max(1000, burst / this.#perMs);
    this.#now = options.now ?? (() => performance.now());
  }

  /** Clients currently tracked. */
  get size(): number {
    return this.#buckets.size;
  }

  /**
   * Takes one token from a client's bucket.
   *
   * @param key The client (see `clientKey`).
   * @returns True when the query may go on; false when it is over the limit.
   */
  allow(key: ClientKey): boolean {
    const now = this.#now();
    const bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      if (this.#buckets.size >= this.#maxEntries) this.#makeRoom(now);
      this.#buckets.set(key, { tokens: this.#burst - 1, at: now });
      return true;
    }
    const tokens = Math.min(this.#burst, bucket.tokens + (now - bucket.at) * this.#perMs);
    bucket.at = now;
    if (tokens < 1) {
      bucket.tokens = tokens;
      return false;
    }
    bucket.tokens = tokens - 1;
    return true;
  }

  #makeRoom(now: number): void {
    if (now - this.#lastSweep >= this.#refillMs) {
      this.#lastSweep = now;
      for (const [key, bucket] of this.#buckets) {
        if (bucket.tokens + (now - bucket.at) * this.#perMs >= this.#burst) {
          this.#buckets.delete(key);
        }
      }
    }
    for (const key of this.#buckets.keys()) {
      if (this.#buckets.size < this.#maxEntries) break;
      this.#buckets.delete(key);
    }
  }
}
