/**
 * The answer cache: least recently used entries go first, and both the
 * number of entries and the bytes they hold are bounded, so a flood of
 * unique names can never grow the process past the bound.
 *
 * Entries stay past their expiry for the stale window (RFC 8767), to be
 * served if the upstreams fail; expired entries are dropped when looked up
 * after that window or when evicted.
 *
 * @module
 */

import type { MessageLayout } from "../wire/message.ts";
import type { Answer } from "../wire/responses.ts";

/** One cached answer. */
export interface CacheEntry {
  /** The answer, in the cache's own copy, with clamped TTLs. */
  readonly answer: Answer;
  /** Offsets of the TTL fields in `answer.message`. */
  readonly offsets: readonly number[];
  /** Seconds the answer is fresh. */
  readonly ttl: number;
  /** When it was stored (performance.now() milliseconds). */
  readonly storedAt: number;
  /** A query that fetches this answer again (for prefetch and stale refresh). */
  readonly refresh: { readonly query: Uint8Array; readonly layout: MessageLayout };
  /** Times it was served fresh. */
  hits: number;
  /** When a refresh last failed (0 if never), for the RFC 8767 failure-recheck timer. */
  refreshFailedAt: number;
}

/** Bounds of the cache. */
export interface DnsCacheOptions {
  /** Most entries kept. */
  readonly maxEntries: number;
  /** Most bytes kept (messages plus an estimate of per-entry overhead). */
  readonly maxBytes: number;
  /** Seconds an entry is kept after it expires, to be served stale; 0 = not kept. */
  readonly staleTtl: number;
}

/** Estimated bytes an entry costs beyond its message: objects, key, map slot. */
const ENTRY_OVERHEAD = 256;

/** An LRU cache of answers, bounded in entries and bytes. */
export class DnsCache {
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #staleMs: number;
  /** Entries in least-recently-used-first order (Map keeps insertion order). */
  readonly #entries = new Map<string, CacheEntry>();
  #bytes = 0;
  #evictions = 0;

  /** @param options Bounds. */
  constructor(options: DnsCacheOptions) {
    this.#maxEntries = options.maxEntries;
    this.#maxBytes = options.maxBytes;
    this.#staleMs = options.staleTtl * 1000;
  }

  /** Number of entries held. */
  get size(): number {
    return this.#entries.size;
  }

  /** Bytes held, by the cache's own accounting. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Entries evicted to stay within the bounds. */
  get evictions(): number {
    return this.#evictions;
  }

  /**
   * Finds an entry, fresh or within its stale window, and marks it most
   * recently used. An entry past its stale window is dropped.
   *
   * @param key The cache key.
   * @param now performance.now() milliseconds.
   * @returns The entry, or undefined.
   */
  get(key: string, now: number): CacheEntry | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    if (now >= entry.storedAt + entry.ttl * 1000 + this.#staleMs) {
      this.#bytes -= sizeOf(key, entry);
      return undefined;
    }
    this.#entries.set(key, entry);
    return entry;
  }

  /**
   * Stores an entry, replacing any under the same key, then evicts least
   * recently used entries until both bounds hold.
   *
   * @param key The cache key.
   * @param entry The entry.
   */
  set(key: string, entry: CacheEntry): void {
    const size = sizeOf(key, entry);
    if (this.#maxEntries === 0 || size > this.#maxBytes) return;
    const old = this.#entries.get(key);
    if (old !== undefined) {
      this.#entries.delete(key);
      this.#bytes -= sizeOf(key, old);
    }
    this.#entries.set(key, entry);
    this.#bytes += size;
    while (this.#entries.size > this.#maxEntries || this.#bytes > this.#maxBytes) {
      const [oldestKey, oldest] = this.#entries.entries().next().value!;
      this.#entries.delete(oldestKey);
      this.#bytes -= sizeOf(oldestKey, oldest);
      this.#evictions++;
    }
  }
}

function sizeOf(key: string, entry: CacheEntry): number {
  return entry.answer.message.length + entry.refresh.query.length + 2 * key.length +
    8 * entry.offsets.length + ENTRY_OVERHEAD;
}
