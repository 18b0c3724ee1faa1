/**
 * Puts upstream answers into the cache: how long each is kept (its TTLs
 * clamped to the configured bounds, and a DNSSEC-secure one no longer than
 * its validation holds), whether a SERVFAIL may replace what is there, and
 * the purge of the names a reload routes elsewhere.
 *
 * @module
 */

import type { Answer } from "../wire/responses.ts";
import { getLogger } from "../log.ts";
import { keyName } from "./cache_key.ts";
import { cacheLifetime, type TtlBounds } from "./cache_lifetime.ts";
import { CacheEntry } from "./dns_cache.ts";
import type { AnswerCache } from "./answer_cache.ts";
import type { Resolution } from "./resolution.ts";
import { isServfail } from "./stale_answer.ts";

const log = getLogger("cache");

/** The writing side of the resolver's cache. */
export class AnswerStore {
  readonly #cache: AnswerCache | null;
  readonly #bounds: TtlBounds;
  /**
   * When routes last changed (`performance.now()`): answers to queries that
   * arrived before may come from an old route, and are not cached.
   */
  #reroutedAt = -Infinity;

  /**
   * @param cache The cache, or null when caching is off.
   * @param bounds The configured TTL bounds.
   */
  constructor(cache: AnswerCache | null, bounds: TtlBounds) {
    this.#cache = cache;
    this.#bounds = bounds;
  }

  /**
   * Caches the answer if it may be cached (the cache keeps a copy). Its TTLs
   * are clamped in place first, so the client gets the octets the cache
   * keeps, without a TTL rewrite; an answer that is not kept is not copied.
   * It is stored as of `now`, when its query arrived: earlier than the
   * answer by the round trip, so it only expires that much sooner, and no
   * clock is read per answer.
   *
   * @param key The cache key.
   * @param answer The upstream's (checked) answer.
   * @param upstream The upstream that answered.
   * @param now When the query arrived (`performance.now()`).
   * @returns The resolution to give to the waiting queries.
   */
  store(key: string, answer: Answer, upstream: string, now: number): Resolution {
    const fresh: Resolution = { answer, source: "upstream", upstream };
    if (this.#cache === null || now < this.#reroutedAt) return fresh;
    const ttl = cacheLifetime(answer, secureBounds(this.#bounds, answer.secureFor));
    if (ttl === null) return fresh;
    if (isServfail(answer)) {
      // A SERVFAIL must not push out an answer that can still be served stale.
      const previous = this.#cache.get(key, now);
      if (previous !== undefined && !isServfail(previous)) return fresh;
    }
    this.#cache.set(new CacheEntry(key, answer, ttl, now));
    return fresh;
  }

  /**
   * Routes changed (a reload): drops the cached answers of the names now
   * routed elsewhere, which their new upstreams may answer differently (a
   * public NXDOMAIN for a name a new forward zone serves would otherwise
   * outlive the reload by its negative TTL, up to a day), and caches no
   * answer to a query that arrived before.
   *
   * @param changed Whether a name key is routed elsewhere now.
   * @returns How many answers were dropped.
   */
  rerouted(changed: (name: string) => boolean): number {
    this.#reroutedAt = performance.now();
    const dropped = this.#cache?.deleteWhere((key) => changed(keyName(key))) ?? 0;
    if (dropped > 0) log.info("Dropped {dropped} cached answers whose route changed", { dropped });
    return dropped;
  }
}

/**
 * The TTL bounds of an answer: a secure one is not cached beyond its
 * validation's end (a signature expires), its records' TTLs clamped to it.
 */
function secureBounds(bounds: TtlBounds, secureFor: number | undefined): TtlBounds {
  if (secureFor === undefined || secureFor >= bounds.maxTtl) return bounds;
  return { minTtl: Math.min(bounds.minTtl, secureFor), maxTtl: secureFor };
}
