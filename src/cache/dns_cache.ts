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

import type { Answer, AnswerSecurity } from "../wire/responses.ts";
import { LinkedList, type ListNode } from "../linked_list.ts";
import { KeyTable } from "./key_table.ts";
import { CHUNK_SIZE, MAX_PACKED_LENGTH, MessageChunk } from "./message_chunk.ts";

/** An empty list shared by the entries that carry no Extended DNS Error. */
const NO_ERRORS: readonly Uint8Array[] = Object.freeze([]);

/**
 * One cached answer, and its place in the recency list.
 *
 * One object per entry on purpose: entries outlive the young generation, so
 * every object they hold costs old-generation garbage collection once they
 * are evicted. With separate objects for the entry, the answer, the list
 * node, the offsets and a stored refresh query, keeping answers cut the
 * queries answered in 8 s of unique names from 172k to 131k (dnsperf -c 10
 * -q 200); with one object, 148k-157k. For the same reason the message is
 * kept as its buffer (a chunk shared by many entries) and a range, not as a
 * view of its own: a view per entry made up about a third of what the cache
 * promoted (sampling heap profile).
 */
export class CacheEntry implements Answer, ListNode<CacheEntry> {
  /**
   * The buffer holding the message: once the entry is stored, the cache's
   * chunk or the message's own copy (the answer given may be a view of a
   * larger reply, with padding after it).
   */
  buffer: Uint8Array;
  /** Where the message starts in `buffer`. */
  offset = 0;
  /** The message's length. */
  readonly length: number;
  readonly questionEnd: number;
  readonly extendedRcode: number;
  readonly errors: readonly Uint8Array[];
  /** The DNSSEC state it was stored with (undefined when validation is off); it never changes. */
  readonly security: AnswerSecurity | undefined;
  /** Seconds a secure answer's validation holds from `storedAt` (see {@linkcode Answer.secureFor}). */
  readonly secureFor: number | undefined;
  /** Times it was served fresh. */
  hits = 0;
  /**
   * When a refresh last failed, for the RFC 8767 failure-recheck timer;
   * -Infinity if never (not 0: `performance.now()` starts at 0 with the
   * process, and 0 made every expired entry stale for the first 30 s).
   */
  refreshFailedAt = -Infinity;
  /** Offsets of the TTL fields, found on the first hit (most entries are never hit). */
  offsets: readonly number[] | null = null;
  /** Bytes charged to the cache besides its chunk (set by DnsCache). */
  size = 0;
  /** The shared chunk that holds the message, or null when it has a buffer of its own. */
  chunk: MessageChunk | null = null;
  /** Less recently used neighbour (managed by DnsCache). */
  older: CacheEntry | null = null;
  /** More recently used neighbour (managed by DnsCache). */
  newer: CacheEntry | null = null;

  /**
   * @param key The cache key.
   * @param answer The answer, with clamped TTLs; the cache copies its message when it stores the entry.
   * @param ttl Seconds the answer is fresh.
   * @param storedAt When it was stored (performance.now() milliseconds).
   */
  constructor(
    readonly key: string,
    answer: Answer,
    readonly ttl: number,
    readonly storedAt: number,
  ) {
    this.buffer = answer.message;
    this.length = answer.message.length;
    this.questionEnd = answer.questionEnd;
    this.extendedRcode = answer.extendedRcode;
    this.errors = answer.errors.length === 0 ? NO_ERRORS : answer.errors;
    this.security = answer.security;
    this.secureFor = answer.secureFor;
  }

  /** The message: a view made on each call, when the buffer holds more than the message. */
  get message(): Uint8Array {
    const { buffer, offset, length } = this;
    return offset === 0 && length === buffer.length
      ? buffer
      : buffer.subarray(offset, offset + length);
  }
}

/** Bounds of the cache. */
export interface DnsCacheOptions {
  /** Most entries kept. */
  readonly maxEntries: number;
  /** Most bytes kept (messages, the chunks that hold them, and an estimate of per-entry overhead). */
  readonly maxBytes: number;
  /** Seconds an entry is kept after it expires, to be served stale; 0 = not kept. */
  readonly staleTtl: number;
}

/**
 * Bytes an entry costs beyond its message and key: a heap snapshot under
 * load showed 128 for the entry, 104 for its Uint8Array and 96 for the
 * ArrayBuffer behind it; the table slot and the allocator take the rest. A
 * message packed in a shared chunk has neither a view nor an ArrayBuffer of
 * its own, so this overcounts it (on the safe side); the chunk is counted
 * apart.
 */
const ENTRY_OVERHEAD = 352;

/**
 * An LRU cache of answers, bounded in entries and bytes.
 *
 * Recency is a doubly linked list (least recently used at the head) beside
 * the table of entries by key: a Map alone, deleted from the front, made V8
 * step over the holes it leaves on every eviction, which the profile showed
 * at 10 % of the CPU once the cache was full.
 *
 * The table is a KeyTable, not a Map: under unique names every query adds
 * an entry and evicts one, and a 10,000-entry Map was rehashed into a new
 * table of about half a megabyte every few thousand queries, left in the
 * old generation for the full collections to evacuate. Pinned, unique names
 * over UDP: full-collection pauses 5.2-5.5 -> 2.9-3.2 ms, peak RSS 131-133
 * -> 123-126 MiB (`--trace-gc-nvp`); throughput and p99 within the noise.
 */
export class DnsCache {
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #staleMs: number;
  readonly #nodes = new KeyTable<CacheEntry>();
  /** Least recently used first. */
  readonly #recency = new LinkedList<CacheEntry>();
  #bytes = 0;
  #evictions = 0;
  /** The chunk new messages are copied into. */
  #chunk = new MessageChunk();

  /** @param options Bounds. */
  constructor(options: DnsCacheOptions) {
    this.#maxEntries = options.maxEntries;
    this.#maxBytes = options.maxBytes;
    this.#staleMs = options.staleTtl * 1000;
  }

  /** Number of entries held. */
  get size(): number {
    return this.#nodes.size;
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
    const entry = this.#nodes.get(key);
    if (entry === undefined) return undefined;
    if (now >= entry.storedAt + entry.ttl * 1000 + this.#staleMs) {
      this.#remove(entry);
      return undefined;
    }
    this.#recency.remove(entry);
    this.#recency.append(entry);
    return entry;
  }

  /**
   * Drops every entry a predicate picks (e.g. those whose route changed on a
   * reload), whatever its age.
   *
   * @param drop Whether to drop the entry of a cache key.
   * @returns How many were dropped.
   */
  deleteWhere(drop: (key: string) => boolean): number {
    let dropped = 0;
    for (let entry = this.#recency.oldest; entry !== null;) {
      const next: CacheEntry | null = entry.newer;
      if (drop(entry.key)) {
        this.#remove(entry);
        dropped++;
      }
      entry = next;
    }
    return dropped;
  }

  /**
   * Stores an entry, replacing any under the same key, then evicts least
   * recently used entries until both bounds hold.
   *
   * @param entry The entry.
   */
  set(entry: CacheEntry): void {
    const packed = entry.length <= MAX_PACKED_LENGTH;
    entry.size = 2 * entry.key.length + ENTRY_OVERHEAD + (packed ? 0 : entry.length);
    const charge = entry.size + (packed ? CHUNK_SIZE : 0);
    if (this.#maxEntries === 0 || charge > this.#maxBytes) return;
    const old = this.#nodes.get(entry.key);
    if (old !== undefined) this.#remove(old);
    this.#own(entry, packed);
    this.#nodes.set(entry.key, entry);
    this.#recency.append(entry);
    this.#bytes += entry.size;
    while (this.#nodes.size > this.#maxEntries || this.#bytes > this.#maxBytes) {
      this.#remove(this.#recency.oldest!);
      this.#evictions++;
    }
  }

  /**
   * Gives the entry the cache's own copy of its message: in the current
   * chunk when it is short, else in a buffer of its own. A chunk is counted
   * in full while it holds an entry.
   */
  #own(entry: CacheEntry, packed: boolean): void {
    const message = entry.message;
    if (!packed) {
      entry.buffer = message.slice();
      entry.offset = 0;
      return;
    }
    let offset = this.#chunk.copy(message);
    if (offset < 0) {
      this.#chunk = new MessageChunk();
      offset = this.#chunk.copy(message);
    }
    entry.buffer = this.#chunk.bytes;
    entry.offset = offset;
    entry.chunk = this.#chunk;
    if (this.#chunk.entries++ === 0) this.#bytes += CHUNK_SIZE;
  }

  #remove(node: CacheEntry): void {
    this.#recency.remove(node);
    this.#nodes.delete(node.key);
    this.#bytes -= node.size;
    const chunk = node.chunk;
    if (chunk !== null && --chunk.entries === 0) this.#bytes -= CHUNK_SIZE;
  }
}
