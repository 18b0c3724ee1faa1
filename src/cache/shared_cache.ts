/**
 * One answer cache for every worker of `--workers N`, in a
 * SharedArrayBuffer: a name answered through one worker is a hit in every
 * other, with no second upstream query.
 *
 * The buffer is cut into shards, each with its own lock
 * ({@linkcode lockShard}), index and byte arena ({@linkcode ShardTable},
 * which describes the layout and the eviction order). A lookup copies the
 * answer out under the lock ({@linkcode SharedEntry}), so a lock is held for
 * a probe and a copy of about a hundred octets. Times are kept as
 * `performance.timeOrigin + now`, which every worker reads the same.
 *
 * A worker that dies while holding a lock would stop every other; the
 * supervisor calls {@linkcode SharedCache.recover} with its number, which
 * empties the shards it held.
 *
 * @module
 */

import { HEADER_LENGTH } from "../wire/constants.ts";
import { COUNT_OFFSET, readU16 } from "../wire/header.ts";
import type { AnswerCache, CachedAnswer } from "./answer_cache.ts";
import type { CacheEntry } from "./dns_cache.ts";
import { halfSipHash13 } from "./key_table.ts";
import { lockShard, releaseShard, shardHolder, unlockShard } from "./shard_lock.ts";
import {
  align,
  C_BYTES,
  C_COUNT,
  C_EVICTIONS,
  C_SERIAL,
  CONTROL_BYTES,
  DEAD,
  H_ARENA,
  H_MAGIC,
  H_MAX_ENTRIES,
  H_SEED,
  H_SEED_HIGH,
  H_SHARDS,
  H_SLOTS,
  H_STALE_MS,
  HEADER_BYTES,
  LIVE,
  MAGIC,
  MAX_STORED_OFFSETS,
  R_DATA,
  R_ERRORS_LENGTH,
  R_EXT_RCODE,
  R_FAILED,
  R_HASH,
  R_HITS,
  R_KEY_LENGTH,
  R_LENGTH,
  R_MESSAGE_LENGTH,
  R_OFFSETS_CAPACITY,
  R_OFFSETS_COUNT,
  R_QUESTION_END,
  R_SECURE_FOR,
  R_SERIAL,
  R_STATE,
  R_STORED,
  R_TTL,
  REFERENCED,
  ShardTable,
  UNKNOWN_OFFSETS,
} from "./shard_table.ts";
import {
  type RecordLocation,
  type RecordWriter,
  securityCode,
  SharedEntry,
} from "./shared_entry.ts";

/** Arena bytes per entry of `--cache-size` when the byte bound is larger. */
export const SHARED_BYTES_PER_ENTRY = 512;

/** Bounds of a new shared cache. */
export interface SharedCacheOptions {
  /** Most entries kept. */
  readonly maxEntries: number;
  /** Most bytes of records kept (the arenas' size). */
  readonly maxBytes: number;
  /** Seconds an entry is kept after it expires, to be served stale; 0 = not kept. */
  readonly staleTtl: number;
}

/** The answer cache every worker shares (see the module documentation). */
export class SharedCache implements AnswerCache, RecordWriter {
  /** The memory every worker attaches to. */
  readonly buffer: SharedArrayBuffer;
  readonly #owner: number;
  readonly #table: ShardTable;
  readonly #i32: Int32Array;
  readonly #f64: Float64Array;
  readonly #u8: Uint8Array;
  readonly #u16: Uint16Array;
  readonly #arena: number;
  readonly #maxEntries: number;
  readonly #staleMs: number;
  readonly #seed: number;
  readonly #seedHigh: number;
  readonly #origin = performance.timeOrigin;

  /**
   * Makes the memory of a new cache.
   *
   * @param options Bounds.
   * @returns The buffer to hand to {@linkcode SharedCache}'s constructor in every worker.
   */
  static allocate(options: SharedCacheOptions): SharedArrayBuffer {
    const maxEntries = Math.max(1, options.maxEntries);
    // Few shards for a small cache, so that both bounds hold closely (at
    // least 256 entries and 64 KiB per shard), and at most 16.
    let shards = 1;
    while (
      shards < 16 && maxEntries / (shards * 2) >= 256 && options.maxBytes / (shards * 2) >= 65536
    ) shards *= 2;
    const perShard = Math.ceil(maxEntries / shards);
    let slots = 8;
    while (slots < 2 * perShard) slots *= 2;
    const arena = Math.max(4096, Math.floor(options.maxBytes / shards / 8) * 8);
    const shardBytes = CONTROL_BYTES + 8 * slots + arena;
    const buffer = new SharedArrayBuffer(HEADER_BYTES + shards * shardBytes);
    const i32 = new Int32Array(buffer);
    i32[H_SHARDS] = shards;
    i32[H_SLOTS] = slots;
    i32[H_ARENA] = arena;
    i32[H_MAX_ENTRIES] = perShard;
    i32.set(crypto.getRandomValues(new Int32Array(2)), H_SEED); // H_SEED and H_SEED_HIGH
    new Float64Array(buffer)[H_STALE_MS] = options.staleTtl * 1000;
    i32[H_MAGIC] = MAGIC;
    return buffer;
  }

  /**
   * Attaches to a cache's memory.
   *
   * @param buffer From {@linkcode SharedCache.allocate}.
   * @param owner This thread's number (1 or more), written into the locks it holds.
   * @throws {TypeError} When `buffer` is not a shared cache.
   */
  constructor(buffer: SharedArrayBuffer, owner = 1) {
    this.buffer = buffer;
    this.#owner = owner;
    const table = new ShardTable(buffer);
    this.#table = table;
    this.#i32 = table.i32;
    this.#f64 = table.f64;
    this.#u8 = table.u8;
    this.#u16 = table.u16;
    this.#arena = table.arena;
    this.#maxEntries = this.#i32[H_MAX_ENTRIES]!;
    this.#seed = this.#i32[H_SEED]!;
    this.#seedHigh = this.#i32[H_SEED_HIGH]!;
    this.#staleMs = this.#f64[H_STALE_MS]!;
  }

  /** Entries held (read without locks: a snapshot). */
  get size(): number {
    return this.#sum(C_COUNT);
  }

  /** Bytes of the records held. */
  get bytes(): number {
    return this.#sum(C_BYTES);
  }

  /** Entries evicted to stay within the bounds. */
  get evictions(): number {
    return this.#sum(C_EVICTIONS);
  }

  /**
   * Finds an entry, fresh or within its stale window, and copies it out; a
   * fresh one counts a hit. An entry past its stale window is dropped.
   *
   * @example Usage
   * ```ts
   * import assert from "node:assert/strict";
   * import { SharedCache } from "./shared_cache.ts";
   *
   * const cache = new SharedCache(SharedCache.allocate({ maxEntries: 10, maxBytes: 65536, staleTtl: 0 }));
   * assert.equal(cache.get("example.", performance.now()), undefined);
   * ```
   *
   * @param key The cache key.
   * @param now performance.now() milliseconds.
   * @returns A copy of the entry, or undefined.
   */
  get(key: string, now: number): CachedAnswer | undefined {
    const hash = this.#hash(key);
    const table = this.#table;
    const base = table.shardBase(hash);
    lockShard(this.#i32, base, this.#owner);
    try {
      const slot = table.find(base, key, hash);
      if (slot < 0) return undefined;
      const record = table.recordAt(base, slot);
      const at = this.#origin + now;
      const storedAt = this.#f64[(record + R_STORED) >> 3]!;
      const ttl = this.#i32[(record + R_TTL) >> 2]!;
      const expiresAt = storedAt + ttl * 1000;
      if (at >= expiresAt + this.#staleMs) {
        table.drop(base, slot);
        return undefined;
      }
      const hits = this.#i32[(record + R_HITS) >> 2]!;
      if (at < expiresAt) {
        this.#i32[(record + R_HITS) >> 2] = hits + 1;
        this.#i32[(record + R_STATE) >> 2] = REFERENCED;
      }
      return new SharedEntry(this, table, this.#origin, base, record, hits);
    } finally {
      unlockShard(this.#i32, base);
    }
  }

  /**
   * Stores a copy of an entry, replacing any under the same key; the oldest
   * records make room (see the module documentation).
   *
   * @param entry The entry.
   */
  set(entry: CacheEntry): void {
    const key = entry.key;
    const message = entry.message;
    let errorsLength = 0;
    for (const error of entry.errors) errorsLength += 2 + error.length;
    const records = message.length >= HEADER_LENGTH
      ? readU16(message, COUNT_OFFSET.AN) + readU16(message, COUNT_OFFSET.NS) +
        readU16(message, COUNT_OFFSET.AR)
      : 0;
    const capacity = records <= MAX_STORED_OFFSETS ? records : 0;
    const offsetsAt = align(R_DATA + key.length + message.length + errorsLength, 2);
    const length = align(offsetsAt + 2 * capacity, 8);
    // One answer may take at most a quarter of its shard, so that a shard holds several.
    if (length > this.#arena / 4 || message.length > 0xffff || key.length > 0xffff) return;
    const hash = this.#hash(key);
    const table = this.#table;
    const base = table.shardBase(hash);
    lockShard(this.#i32, base, this.#owner);
    try {
      const old = table.find(base, key, hash);
      if (old >= 0) table.drop(base, old);
      const record = table.allocate(base, length);
      const i32 = this.#i32;
      const u16 = this.#u16;
      i32[(record + R_LENGTH) >> 2] = length;
      i32[(record + R_STATE) >> 2] = LIVE;
      this.#f64[(record + R_STORED) >> 3] = this.#origin + entry.storedAt;
      // -Infinity (never) stays -Infinity.
      this.#f64[(record + R_FAILED) >> 3] = this.#origin + entry.refreshFailedAt;
      i32[(record + R_HASH) >> 2] = hash;
      i32[(record + R_TTL) >> 2] = entry.ttl;
      i32[(record + R_HITS) >> 2] = entry.hits;
      i32[(record + R_SECURE_FOR) >> 2] = entry.secureFor ?? -1;
      i32[(record + R_EXT_RCODE) >> 2] = entry.extendedRcode | (securityCode(entry.security) << 16);
      u16[(record + R_KEY_LENGTH) >> 1] = key.length;
      u16[(record + R_MESSAGE_LENGTH) >> 1] = message.length;
      u16[(record + R_QUESTION_END) >> 1] = entry.questionEnd;
      u16[(record + R_ERRORS_LENGTH) >> 1] = errorsLength;
      u16[(record + R_OFFSETS_COUNT) >> 1] = UNKNOWN_OFFSETS;
      u16[(record + R_OFFSETS_CAPACITY) >> 1] = capacity;
      const serial = i32[(base >> 2) + C_SERIAL]! + 1 | 0;
      i32[(base >> 2) + C_SERIAL] = serial;
      i32[(record + R_SERIAL) >> 2] = serial;
      const u8 = this.#u8;
      let at = record + R_DATA;
      for (let i = 0; i < key.length; i++) u8[at++] = key.charCodeAt(i);
      u8.set(message, at);
      at += message.length;
      for (const error of entry.errors) {
        u8[at] = error.length & 0xff;
        u8[at + 1] = error.length >>> 8;
        u8.set(error, at + 2);
        at += 2 + error.length;
      }
      table.index(base, hash, record);
      i32[(base >> 2) + C_BYTES]! += length;
      while (i32[(base >> 2) + C_COUNT]! > this.#maxEntries) table.evictTail(base, false);
    } finally {
      unlockShard(this.#i32, base);
    }
  }

  /**
   * Empties the shards whose lock `owner` holds: its thread was stopped in
   * the middle of a change, which may have left them inconsistent.
   *
   * @param owner The number the dead thread attached with.
   * @returns Shards emptied.
   */
  recover(owner: number): number {
    const table = this.#table;
    let emptied = 0;
    for (let shard = 0; shard < table.shards; shard++) {
      const base = table.shardAt(shard);
      if (shardHolder(this.#i32, base) !== owner) continue;
      table.clear(base);
      releaseShard(this.#i32, base);
      emptied++;
    }
    return emptied;
  }

  /** Writes a failed refresh's time into the record, if it is still the one copied out. */
  noteRefreshFailure(location: RecordLocation, at: number): void {
    this.#update(location, (record) => {
      this.#f64[(record + R_FAILED) >> 3] = this.#origin + at;
    });
  }

  /** Keeps the TTL offsets found on a hit in the record, if it is still the one copied out. */
  noteOffsets(location: RecordLocation, offsets: readonly number[]): void {
    this.#update(location, (record) => {
      const capacity = this.#u16[(record + R_OFFSETS_CAPACITY) >> 1]!;
      if (offsets.length > capacity) return;
      const start = this.#table.offsetsStart(record);
      for (let i = 0; i < offsets.length; i++) this.#u16[(start >> 1) + i] = offsets[i]!;
      this.#u16[(record + R_OFFSETS_COUNT) >> 1] = offsets.length;
    });
  }

  #update(location: RecordLocation, change: (record: number) => void): void {
    const { base, record, serial } = location;
    lockShard(this.#i32, base, this.#owner);
    try {
      const state = this.#i32[(record + R_STATE) >> 2];
      if (this.#i32[(record + R_SERIAL) >> 2] !== serial || state === DEAD) return;
      change(record);
    } finally {
      unlockShard(this.#i32, base);
    }
  }

  /**
   * Drops every entry a predicate picks, one shard at a time (the predicate
   * runs under the shard's lock: it must not use the cache).
   *
   * @param drop Whether to drop the entry of a cache key.
   * @returns How many were dropped.
   */
  deleteWhere(drop: (key: string) => boolean): number {
    const table = this.#table;
    let dropped = 0;
    for (let shard = 0; shard < table.shards; shard++) {
      const base = table.shardAt(shard);
      const slots = (base + CONTROL_BYTES) >> 2;
      lockShard(this.#i32, base, this.#owner);
      try {
        // Records first, then their slots: each drop shifts the slots after it.
        const doomed: number[] = [];
        for (let slot = 0; slot < table.slots; slot++) {
          if (this.#i32[slots + slot] === 0) continue;
          const record = table.recordAt(base, slot);
          if (drop(table.keyOf(record))) doomed.push(record);
        }
        for (const record of doomed) {
          table.drop(base, table.slotOf(base, this.#i32[(record + R_HASH) >> 2]!, record));
        }
        dropped += doomed.length;
      } finally {
        unlockShard(this.#i32, base);
      }
    }
    return dropped;
  }

  /**
   * HalfSipHash-1-3 under the cache's random key, as the process-local
   * tables use: names come from anyone who controls a zone, and an unkeyed
   * hash lets them pile up in one shard and one probe run.
   */
  #hash(key: string): number {
    return halfSipHash13(key, this.#seed, this.#seedHigh);
  }

  #sum(word: number): number {
    let total = 0;
    const table = this.#table;
    for (let shard = 0; shard < table.shards; shard++) {
      total += Atomics.load(this.#i32, (table.shardAt(shard) >> 2) + word);
    }
    return total;
  }
}
