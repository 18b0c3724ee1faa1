/**
 * One answer cache for every worker of `--workers N`, in a
 * SharedArrayBuffer: a name answered through one worker is a hit in every
 * other, with no second upstream query.
 *
 * The buffer is cut into shards, each with its own lock (a word taken with
 * `Atomics.compareExchange`, holding the owner's number), an open-addressing
 * index (record offset and hash per slot, linear probing, backward-shift
 * delete) and a byte arena used as a ring: records are appended at the head
 * and evicted from the tail, first in, first out, which bounds the cache in
 * bytes without an allocator. A record that was hit since it was written
 * gets a second chance when it reaches the tail (it is copied to the head,
 * its mark cleared), so popular answers are not evicted by a flood of
 * unique names (a CLOCK approximation of least recently used).
 *
 * A lookup copies the answer out under the lock (the bytes are then the
 * worker's own), so a lock is held for a probe and a copy of about a
 * hundred octets. Times are kept as `performance.timeOrigin + now`, which
 * every worker reads the same.
 *
 * A worker that dies while holding a lock (only a forced termination can:
 * an exception unwinds and releases it) would stop every other; the
 * supervisor calls {@linkcode SharedCache.recover} with its number, which
 * empties the shards it held.
 *
 * @module
 */

import { HEADER_LENGTH } from "../wire/constants.ts";
import { COUNT_OFFSET, readU16 } from "../wire/header.ts";
import { allocateBytes } from "../wire/byte_slab.ts";
import type { AnswerSecurity } from "../wire/responses.ts";
import type { AnswerCache, CachedAnswer } from "./answer_cache.ts";
import type { CacheEntry } from "./dns_cache.ts";
import { halfSipHash13 } from "./key_table.ts";

/** Arena bytes per entry of `--cache-size` when the byte bound is larger. */
export const SHARED_BYTES_PER_ENTRY = 512;

const MAGIC = 0x444f5431; // "DOT1"
const HEADER_BYTES = 64;
const CONTROL_BYTES = 64;
/** Word indexes in the header. */
const H_MAGIC = 0, H_SHARDS = 1, H_SLOTS = 2, H_ARENA = 3, H_MAX_ENTRIES = 4, H_SEED = 5;
const H_SEED_HIGH = 6;
/** Float64 index in the header: the stale window in milliseconds. */
const H_STALE_MS = 4;
/** Word offsets in a shard's control block. */
const C_LOCK = 0, C_WAITERS = 1, C_HEAD = 2, C_TAIL = 3, C_USED = 4, C_COUNT = 5, C_BYTES = 6;
const C_EVICTIONS = 7, C_SERIAL = 8;

/** Byte offsets in a record (8-aligned). */
const R_LENGTH = 0, R_STATE = 4, R_STORED = 8, R_FAILED = 16, R_HASH = 24, R_TTL = 28;
const R_HITS = 32, R_EXT_RCODE = 36, R_KEY_LENGTH = 40, R_MESSAGE_LENGTH = 42;
const R_QUESTION_END = 44, R_ERRORS_LENGTH = 46, R_OFFSETS_COUNT = 48, R_OFFSETS_CAPACITY = 50;
/** R_SECURE_FOR: a secure answer's `secureFor` in seconds, -1 for none. */
const R_SERIAL = 52, R_SECURE_FOR = 56, R_DATA = 60;
/** Record states: indexed, removed (its space is reclaimed when the tail passes), hit since written. */
const LIVE = 1, DEAD = 0, REFERENCED = 3;
/** TTL offsets not found yet. */
const UNKNOWN_OFFSETS = 0xffff;
/** Records with more records than this keep no TTL offsets (they are found on each hit). */
const MAX_STORED_OFFSETS = 256;
const NO_ERRORS: readonly Uint8Array[] = Object.freeze([]);

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
export class SharedCache implements AnswerCache {
  /** The memory every worker attaches to. */
  readonly buffer: SharedArrayBuffer;
  readonly #owner: number;
  readonly #i32: Int32Array;
  readonly #f64: Float64Array;
  readonly #u8: Uint8Array;
  readonly #u16: Uint16Array;
  readonly #shards: number;
  readonly #slots: number;
  readonly #arena: number;
  readonly #maxEntries: number;
  readonly #staleMs: number;
  readonly #seed: number;
  readonly #seedHigh: number;
  readonly #shardBytes: number;
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
    this.#i32 = new Int32Array(buffer);
    this.#f64 = new Float64Array(buffer, 0, Math.floor(buffer.byteLength / 8));
    this.#u8 = new Uint8Array(buffer);
    this.#u16 = new Uint16Array(buffer, 0, Math.floor(buffer.byteLength / 2));
    if (this.#i32[H_MAGIC] !== MAGIC) throw new TypeError("Cannot attach the cache: bad buffer");
    this.#shards = this.#i32[H_SHARDS]!;
    this.#slots = this.#i32[H_SLOTS]!;
    this.#arena = this.#i32[H_ARENA]!;
    this.#maxEntries = this.#i32[H_MAX_ENTRIES]!;
    this.#seed = this.#i32[H_SEED]!;
    this.#seedHigh = this.#i32[H_SEED_HIGH]!;
    this.#staleMs = this.#f64[H_STALE_MS]!;
    this.#shardBytes = CONTROL_BYTES + 8 * this.#slots + this.#arena;
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
    const base = this.#shardBase(hash);
    this.#lock(base);
    try {
      const slot = this.#find(base, key, hash);
      if (slot < 0) return undefined;
      const record = this.#recordAt(base, slot);
      const at = this.#origin + now;
      const storedAt = this.#f64[(record + R_STORED) >> 3]!;
      const ttl = this.#i32[(record + R_TTL) >> 2]!;
      const expiresAt = storedAt + ttl * 1000;
      if (at >= expiresAt + this.#staleMs) {
        this.#drop(base, slot);
        return undefined;
      }
      const hits = this.#i32[(record + R_HITS) >> 2]!;
      if (at < expiresAt) {
        this.#i32[(record + R_HITS) >> 2] = hits + 1;
        this.#i32[(record + R_STATE) >> 2] = REFERENCED;
      }
      return this.#copyOut(base, record, hits);
    } finally {
      this.#unlock(base);
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
    const base = this.#shardBase(hash);
    this.#lock(base);
    try {
      const old = this.#find(base, key, hash);
      if (old >= 0) this.#drop(base, old);
      const record = this.#allocate(base, length);
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
      this.#index(base, hash, record);
      i32[(base >> 2) + C_BYTES]! += length;
      while (i32[(base >> 2) + C_COUNT]! > this.#maxEntries) this.#evictTail(base, false);
    } finally {
      this.#unlock(base);
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
    let emptied = 0;
    for (let shard = 0; shard < this.#shards; shard++) {
      const base = HEADER_BYTES + shard * this.#shardBytes;
      const lock = (base >> 2) + C_LOCK;
      if (Atomics.load(this.#i32, lock) !== owner) continue;
      const control = base >> 2;
      for (const word of [C_HEAD, C_TAIL, C_USED, C_COUNT, C_BYTES]) this.#i32[control + word] = 0;
      this.#i32.fill(0, (base + CONTROL_BYTES) >> 2, (base + CONTROL_BYTES + 4 * this.#slots) >> 2);
      Atomics.store(this.#i32, lock, 0);
      Atomics.notify(this.#i32, lock);
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
      const start = this.#offsetsStart(record);
      for (let i = 0; i < offsets.length; i++) this.#u16[(start >> 1) + i] = offsets[i]!;
      this.#u16[(record + R_OFFSETS_COUNT) >> 1] = offsets.length;
    });
  }

  #update(location: RecordLocation, change: (record: number) => void): void {
    const { base, record, serial } = location;
    this.#lock(base);
    try {
      const state = this.#i32[(record + R_STATE) >> 2];
      if (this.#i32[(record + R_SERIAL) >> 2] !== serial || state === DEAD) return;
      change(record);
    } finally {
      this.#unlock(base);
    }
  }

  #copyOut(base: number, record: number, hits: number): SharedEntry {
    const u16 = this.#u16;
    const keyLength = u16[(record + R_KEY_LENGTH) >> 1]!;
    const messageLength = u16[(record + R_MESSAGE_LENGTH) >> 1]!;
    const errorsLength = u16[(record + R_ERRORS_LENGTH) >> 1]!;
    const start = record + R_DATA + keyLength;
    const message = allocateBytes(messageLength);
    message.set(this.#u8.subarray(start, start + messageLength));
    let errors = NO_ERRORS;
    if (errorsLength > 0) {
      const list: Uint8Array[] = [];
      for (let at = start + messageLength; at < start + messageLength + errorsLength;) {
        const length = this.#u8[at]! | (this.#u8[at + 1]! << 8);
        list.push(this.#u8.slice(at + 2, at + 2 + length));
        at += 2 + length;
      }
      errors = list;
    }
    const secureFor = this.#i32[(record + R_SECURE_FOR) >> 2]!;
    let offsets: number[] | null = null;
    const count = u16[(record + R_OFFSETS_COUNT) >> 1]!;
    if (count !== UNKNOWN_OFFSETS) {
      const first = this.#offsetsStart(record) >> 1;
      offsets = new Array(count);
      for (let i = 0; i < count; i++) offsets[i] = u16[first + i]!;
    }
    return new SharedEntry(this, { base, record, serial: this.#i32[(record + R_SERIAL) >> 2]! }, {
      message,
      questionEnd: u16[(record + R_QUESTION_END) >> 1]!,
      extendedRcode: this.#i32[(record + R_EXT_RCODE) >> 2]! & 0xffff,
      security: SECURITY_STATES[this.#i32[(record + R_EXT_RCODE) >> 2]! >>> 16],
      secureFor: secureFor < 0 ? undefined : secureFor,
      errors,
      storedAt: this.#f64[(record + R_STORED) >> 3]! - this.#origin,
      ttl: this.#i32[(record + R_TTL) >> 2]!,
      hits,
      refreshFailedAt: this.#f64[(record + R_FAILED) >> 3]! - this.#origin,
      offsets,
    });
  }

  /**
   * Drops every entry a predicate picks, one shard at a time (the predicate
   * runs under the shard's lock: it must not use the cache).
   *
   * @param drop Whether to drop the entry of a cache key.
   * @returns How many were dropped.
   */
  deleteWhere(drop: (key: string) => boolean): number {
    let dropped = 0;
    for (let shard = 0; shard < this.#shards; shard++) {
      const base = HEADER_BYTES + shard * this.#shardBytes;
      const slots = (base + CONTROL_BYTES) >> 2;
      this.#lock(base);
      try {
        // Records first, then their slots: each drop shifts the slots after it.
        const doomed: number[] = [];
        for (let slot = 0; slot < this.#slots; slot++) {
          if (this.#i32[slots + slot] === 0) continue;
          const record = this.#recordAt(base, slot);
          if (drop(this.#keyOf(record))) doomed.push(record);
        }
        for (const record of doomed) {
          this.#drop(base, this.#slotOf(base, this.#i32[(record + R_HASH) >> 2]!, record));
        }
        dropped += doomed.length;
      } finally {
        this.#unlock(base);
      }
    }
    return dropped;
  }

  /** The cache key of a record (one octet per character, as `#find` compares it). */
  #keyOf(record: number): string {
    const start = record + R_DATA;
    const bytes = this.#u8.slice(start, start + this.#u16[(record + R_KEY_LENGTH) >> 1]!);
    return String.fromCharCode.apply(null, bytes as unknown as number[]);
  }

  #offsetsStart(record: number): number {
    const u16 = this.#u16;
    return align(
      record + R_DATA + u16[(record + R_KEY_LENGTH) >> 1]! +
        u16[(record + R_MESSAGE_LENGTH) >> 1]! + u16[(record + R_ERRORS_LENGTH) >> 1]!,
      2,
    );
  }

  /**
   * Room for `length` bytes at the arena's head, evicting from its tail as
   * needed. The records run from the tail to the head, wrapping at the end
   * of the arena; `used` counts their bytes (and skipped ends), so that a
   * head equal to the tail means empty when it is 0 and full otherwise.
   */
  #allocate(base: number, length: number): number {
    const control = base >> 2;
    const i32 = this.#i32;
    const arena = this.#arena;
    const arenaStart = this.#arenaStart(base);
    for (let rounds = 0; rounds <= arena / 8 + 4; rounds++) {
      const used = i32[control + C_USED]!;
      if (used === 0) {
        i32[control + C_HEAD] = 0;
        i32[control + C_TAIL] = 0;
      }
      const head = i32[control + C_HEAD]!;
      const tail = i32[control + C_TAIL]!;
      if (used === 0 || head > tail) {
        if (head + length <= arena) return this.#claim(control, arenaStart, head, length);
        // Not enough room before the end: skip the rest of the arena (8 octets or more).
        i32[(arenaStart + head + R_LENGTH) >> 2] = -(arena - head);
        i32[control + C_HEAD] = 0;
        i32[control + C_USED] = used + arena - head;
        continue;
      }
      if (head < tail && head + length <= tail) {
        return this.#claim(control, arenaStart, head, length);
      }
      this.#evictTail(base, true);
    }
    throw new Error("Cannot store in the shared cache: its arena is inconsistent");
  }

  #claim(control: number, arenaStart: number, head: number, length: number): number {
    const next = head + length;
    this.#i32[control + C_HEAD] = next === this.#arena ? 0 : next;
    this.#i32[control + C_USED]! += length;
    return arenaStart + head;
  }

  /**
   * Frees the record at the arena's tail. A live record that was hit since
   * it was written is moved to the head instead, its mark cleared, when
   * `secondChance` allows (not when the entry bound is being enforced).
   */
  #evictTail(base: number, secondChance: boolean): void {
    const control = base >> 2;
    const i32 = this.#i32;
    const arenaStart = this.#arenaStart(base);
    const tail = i32[control + C_TAIL]!;
    const record = arenaStart + tail;
    const length = i32[(record + R_LENGTH) >> 2]!;
    const size = Math.abs(length);
    const next = tail + size;
    i32[control + C_TAIL] = next === this.#arena ? 0 : next;
    i32[control + C_USED]! -= size;
    if (length < 0) return;
    const state = i32[(record + R_STATE) >> 2]!;
    if (state === DEAD) return;
    const slot = this.#slotOf(base, i32[(record + R_HASH) >> 2]!, record);
    if (secondChance && state === REFERENCED) {
      // Its bytes are free now but not yet reused: move them to the head.
      const moved = this.#allocate(base, length);
      this.#u8.copyWithin(moved, record, record + length);
      i32[(moved + R_STATE) >> 2] = LIVE;
      i32[((base + CONTROL_BYTES) >> 2) + slot] = moved - arenaStart + 1;
      return;
    }
    this.#unindex(base, slot);
    i32[control + C_BYTES]! -= length;
    i32[control + C_EVICTIONS]!++;
  }

  /** Marks an indexed record removed (its bytes are reclaimed when the tail passes it). */
  #drop(base: number, slot: number): void {
    const record = this.#recordAt(base, slot);
    this.#i32[(record + R_STATE) >> 2] = DEAD;
    this.#i32[(base >> 2) + C_BYTES]! -= this.#i32[(record + R_LENGTH) >> 2]!;
    this.#unindex(base, slot);
  }

  #arenaStart(base: number): number {
    return base + CONTROL_BYTES + 8 * this.#slots;
  }

  // --- index -------------------------------------------------------------

  /** The index slot holding `key`, or -1. */
  #find(base: number, key: string, hash: number): number {
    const i32 = this.#i32;
    const u8 = this.#u8;
    const slots = (base + CONTROL_BYTES) >> 2;
    const hashes = slots + this.#slots;
    const mask = this.#slots - 1;
    const arenaStart = base + CONTROL_BYTES + 8 * this.#slots;
    for (let slot = hash & mask;; slot = (slot + 1) & mask) {
      const stored = i32[slots + slot]!;
      if (stored === 0) return -1;
      if (i32[hashes + slot] !== hash) continue;
      const record = arenaStart + stored - 1;
      if (this.#u16[(record + R_KEY_LENGTH) >> 1] !== key.length) continue;
      let at = record + R_DATA;
      let same = true;
      for (let i = 0; i < key.length; i++) {
        if (u8[at++] !== key.charCodeAt(i)) {
          same = false;
          break;
        }
      }
      if (same) return slot;
    }
  }

  /** The index slot that points at `record`. */
  #slotOf(base: number, hash: number, record: number): number {
    const slots = (base + CONTROL_BYTES) >> 2;
    const mask = this.#slots - 1;
    const target = record - (base + CONTROL_BYTES + 8 * this.#slots) + 1;
    for (let slot = hash & mask, n = 0; n <= mask; slot = (slot + 1) & mask, n++) {
      if (this.#i32[slots + slot] === target) return slot;
    }
    throw new Error("Cannot find a cached record in its index");
  }

  #recordAt(base: number, slot: number): number {
    const stored = this.#i32[((base + CONTROL_BYTES) >> 2) + slot]!;
    return base + CONTROL_BYTES + 8 * this.#slots + stored - 1;
  }

  #index(base: number, hash: number, record: number): void {
    const i32 = this.#i32;
    const slots = (base + CONTROL_BYTES) >> 2;
    const hashes = slots + this.#slots;
    const mask = this.#slots - 1;
    let slot = hash & mask;
    while (i32[slots + slot] !== 0) slot = (slot + 1) & mask;
    i32[slots + slot] = record - (base + CONTROL_BYTES + 8 * this.#slots) + 1;
    i32[hashes + slot] = hash;
    i32[(base >> 2) + C_COUNT]!++;
  }

  /** Removes a slot's entry from the index (backward shift, no tombstones). */
  #unindex(base: number, hole: number): void {
    const i32 = this.#i32;
    const slots = (base + CONTROL_BYTES) >> 2;
    const hashes = slots + this.#slots;
    const mask = this.#slots - 1;
    for (let slot = (hole + 1) & mask; i32[slots + slot] !== 0; slot = (slot + 1) & mask) {
      const home = i32[hashes + slot]! & mask;
      const stays = hole <= slot ? hole < home && home <= slot : hole < home || home <= slot;
      if (stays) continue;
      i32[slots + hole] = i32[slots + slot]!;
      i32[hashes + hole] = i32[hashes + slot]!;
      hole = slot;
    }
    i32[slots + hole] = 0;
    i32[(base >> 2) + C_COUNT]!--;
  }

  // --- locks and helpers -------------------------------------------------

  #lock(base: number): void {
    const i32 = this.#i32;
    const lock = (base >> 2) + C_LOCK;
    if (Atomics.compareExchange(i32, lock, 0, this.#owner) === 0) return;
    for (let spin = 0;; spin++) {
      const holder = Atomics.load(i32, lock);
      if (holder === 0) {
        if (Atomics.compareExchange(i32, lock, 0, this.#owner) === 0) return;
      } else if (spin >= 64) {
        Atomics.add(i32, (base >> 2) + C_WAITERS, 1);
        Atomics.wait(i32, lock, holder, 1);
        Atomics.sub(i32, (base >> 2) + C_WAITERS, 1);
      }
    }
  }

  #unlock(base: number): void {
    Atomics.store(this.#i32, (base >> 2) + C_LOCK, 0);
    if (Atomics.load(this.#i32, (base >> 2) + C_WAITERS) !== 0) {
      Atomics.notify(this.#i32, (base >> 2) + C_LOCK, 1);
    }
  }

  #shardBase(hash: number): number {
    return HEADER_BYTES + ((hash >>> 24) & (this.#shards - 1)) * this.#shardBytes;
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
    for (let shard = 0; shard < this.#shards; shard++) {
      total += Atomics.load(this.#i32, ((HEADER_BYTES + shard * this.#shardBytes) >> 2) + word);
    }
    return total;
  }
}

/** Where a copied-out record lives, to write back what the resolver learns about it. */
interface RecordLocation {
  readonly base: number;
  readonly record: number;
  readonly serial: number;
}

/**
 * The DNSSEC states a record can hold, by their code in the upper half of
 * the record's extended-rcode word (an extended rcode needs 12 bits); code 0
 * is "not validated" (validation off).
 */
const SECURITY_STATES: readonly (AnswerSecurity | undefined)[] = [
  undefined,
  "secure",
  "insecure",
  "bogus",
  "indeterminate",
  "unchecked",
];

function securityCode(security: AnswerSecurity | undefined): number {
  return security === undefined ? 0 : SECURITY_STATES.indexOf(security);
}

/** The fields of a copied-out entry. */
interface EntryFields {
  readonly message: Uint8Array;
  readonly questionEnd: number;
  readonly extendedRcode: number;
  readonly security: AnswerSecurity | undefined;
  readonly secureFor: number | undefined;
  readonly errors: readonly Uint8Array[];
  readonly storedAt: number;
  readonly ttl: number;
  readonly hits: number;
  readonly refreshFailedAt: number;
  readonly offsets: readonly number[] | null;
}

/**
 * A copy of a shared entry. A failed refresh and the TTL offsets found on a
 * hit are written back to the shared record, so every worker sees them.
 */
class SharedEntry implements CachedAnswer {
  readonly message: Uint8Array;
  readonly questionEnd: number;
  readonly extendedRcode: number;
  /** The DNSSEC state it was stored with: a cached answer never upgrades itself. */
  readonly security: AnswerSecurity | undefined;
  readonly secureFor: number | undefined;
  readonly errors: readonly Uint8Array[];
  readonly storedAt: number;
  readonly ttl: number;
  hits: number;
  readonly #cache: SharedCache;
  readonly #location: RecordLocation;
  #refreshFailedAt: number;
  #offsets: readonly number[] | null;

  constructor(cache: SharedCache, location: RecordLocation, fields: EntryFields) {
    this.#cache = cache;
    this.#location = location;
    this.message = fields.message;
    this.questionEnd = fields.questionEnd;
    this.extendedRcode = fields.extendedRcode;
    this.security = fields.security;
    this.secureFor = fields.secureFor;
    this.errors = fields.errors;
    this.storedAt = fields.storedAt;
    this.ttl = fields.ttl;
    this.hits = fields.hits;
    this.#refreshFailedAt = fields.refreshFailedAt;
    this.#offsets = fields.offsets;
  }

  get refreshFailedAt(): number {
    return this.#refreshFailedAt;
  }

  set refreshFailedAt(at: number) {
    this.#refreshFailedAt = at;
    this.#cache.noteRefreshFailure(this.#location, at);
  }

  get offsets(): readonly number[] | null {
    return this.#offsets;
  }

  set offsets(offsets: readonly number[] | null) {
    this.#offsets = offsets;
    if (offsets !== null) this.#cache.noteOffsets(this.#location, offsets);
  }
}

function align(value: number, to: number): number {
  return Math.ceil(value / to) * to;
}
