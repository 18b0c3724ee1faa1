/**
 * What the resolver needs from a cache of answers, so that it can use the
 * process-local {@linkcode DnsCache} or the {@linkcode SharedCache} that
 * every worker of `--workers N` sees.
 *
 * @module
 */

import type { Answer } from "../wire/responses.ts";
import type { CacheEntry } from "./dns_cache.ts";

/** A cached answer as a lookup returns it. */
export interface CachedAnswer extends Answer {
  /** When it was stored (this thread's performance.now() milliseconds). */
  readonly storedAt: number;
  /** Seconds it is fresh. */
  readonly ttl: number;
  /** Times it was served fresh (the resolver counts this hit itself). */
  hits: number;
  /** When a refresh last failed (-Infinity if never), for the RFC 8767 failure-recheck timer. */
  refreshFailedAt: number;
  /** Offsets of the TTL fields, null until found once. */
  offsets: readonly number[] | null;
}

/** A bounded cache of answers by cache key. */
export interface AnswerCache {
  /** Entries held. */
  readonly size: number;
  /** Bytes held, by the cache's own accounting. */
  readonly bytes: number;
  /** Entries evicted to stay within the bounds. */
  readonly evictions: number;
  /**
   * Finds an entry, fresh or within its stale window.
   *
   * @param key The cache key.
   * @param now performance.now() milliseconds.
   * @returns The entry, or undefined.
   */
  get(key: string, now: number): CachedAnswer | undefined;
  /**
   * Stores an entry (the cache keeps its own copy of the message).
   *
   * @param entry The entry.
   */
  set(entry: CacheEntry): void;
  /**
   * Drops every entry a predicate picks, whatever its age (e.g. the names
   * a reload routes elsewhere).
   *
   * @param drop Whether to drop the entry of a cache key.
   * @returns How many were dropped.
   */
  deleteWhere(drop: (key: string) => boolean): number;
}
