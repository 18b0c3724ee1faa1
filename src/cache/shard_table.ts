/**
 * The memory layout of the {@linkcode SharedCache} and the index and arena
 * of each of its shards.
 *
 * The buffer holds a header, then shards, each with a control block (its
 * lock and counters), an open-addressing index (record offset and hash per
 * slot, linear probing, backward-shift delete) and a byte arena used as a
 * ring: records are appended at the head and evicted from the tail, first
 * in, first out, which bounds the cache in bytes without an allocator. A
 * record that was hit since it was written gets a second chance when it
 * reaches the tail (it is copied to the head, its mark cleared), so popular
 * answers are not evicted by a flood of unique names (a CLOCK approximation
 * of least recently used).
 *
 * Every method here expects the caller to hold the shard's lock.
 *
 * @module
 */

export const MAGIC = 0x444f5431; // "DOT1"
export const HEADER_BYTES = 64;
export const CONTROL_BYTES = 64;
/** Word indexes in the header. */
export const H_MAGIC = 0, H_SHARDS = 1, H_SLOTS = 2, H_ARENA = 3, H_MAX_ENTRIES = 4, H_SEED = 5;
export const H_SEED_HIGH = 6;
/** Float64 index in the header: the stale window in milliseconds. */
export const H_STALE_MS = 4;
/** Word offsets in a shard's control block. */
export const C_LOCK = 0, C_WAITERS = 1, C_HEAD = 2, C_TAIL = 3, C_USED = 4, C_COUNT = 5;
export const C_BYTES = 6, C_EVICTIONS = 7, C_SERIAL = 8;

/** Byte offsets in a record (8-aligned). */
export const R_LENGTH = 0, R_STATE = 4, R_STORED = 8, R_FAILED = 16, R_HASH = 24, R_TTL = 28;
export const R_HITS = 32, R_EXT_RCODE = 36, R_KEY_LENGTH = 40, R_MESSAGE_LENGTH = 42;
export const R_QUESTION_END = 44, R_ERRORS_LENGTH = 46, R_OFFSETS_COUNT = 48;
export const R_OFFSETS_CAPACITY = 50;
/** R_SECURE_FOR: a secure answer's `secureFor` in seconds, -1 for none. */
export const R_SERIAL = 52, R_SECURE_FOR = 56, R_DATA = 60;
/** Record states: indexed, removed (its space is reclaimed when the tail passes), hit since written. */
export const LIVE = 1, DEAD = 0, REFERENCED = 3;
/** TTL offsets not found yet. */
export const UNKNOWN_OFFSETS = 0xffff;
/** Records with more records than this keep no TTL offsets (they are found on each hit). */
export const MAX_STORED_OFFSETS = 256;

/** `value` rounded up to a multiple of `to`. */
export function align(value: number, to: number): number {
  return Math.ceil(value / to) * to;
}

/** The views of a shared cache's buffer and the index and arena of its shards. */
export class ShardTable {
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly u8: Uint8Array;
  readonly u16: Uint16Array;
  /** Shards (a power of two). */
  readonly shards: number;
  /** Index slots per shard (a power of two). */
  readonly slots: number;
  /** Arena bytes per shard. */
  readonly arena: number;
  /** Bytes per shard: control block, index and arena. */
  readonly shardBytes: number;

  /**
   * Reads the layout of a cache's memory.
   *
   * @param buffer A buffer whose header was written.
   * @throws {TypeError} When `buffer` is not a shared cache.
   */
  constructor(buffer: SharedArrayBuffer) {
    this.i32 = new Int32Array(buffer);
    this.f64 = new Float64Array(buffer, 0, Math.floor(buffer.byteLength / 8));
    this.u8 = new Uint8Array(buffer);
    this.u16 = new Uint16Array(buffer, 0, Math.floor(buffer.byteLength / 2));
    if (this.i32[H_MAGIC] !== MAGIC) throw new TypeError("Cannot attach the cache: bad buffer");
    this.shards = this.i32[H_SHARDS]!;
    this.slots = this.i32[H_SLOTS]!;
    this.arena = this.i32[H_ARENA]!;
    this.shardBytes = CONTROL_BYTES + 8 * this.slots + this.arena;
  }

  /** The byte offset of a shard. */
  shardAt(shard: number): number {
    return HEADER_BYTES + shard * this.shardBytes;
  }

  /** The byte offset of the shard a hash falls in. */
  shardBase(hash: number): number {
    return HEADER_BYTES + ((hash >>> 24) & (this.shards - 1)) * this.shardBytes;
  }

  /** The cache key of a record (one octet per character, as `find` compares it). */
  keyOf(record: number): string {
    const start = record + R_DATA;
    const bytes = this.u8.slice(start, start + this.u16[(record + R_KEY_LENGTH) >> 1]!);
    return String.fromCharCode.apply(null, bytes as unknown as number[]);
  }

  /** The byte offset of a record's TTL offsets. */
  offsetsStart(record: number): number {
    const u16 = this.u16;
    return align(
      record + R_DATA + u16[(record + R_KEY_LENGTH) >> 1]! +
        u16[(record + R_MESSAGE_LENGTH) >> 1]! + u16[(record + R_ERRORS_LENGTH) >> 1]!,
      2,
    );
  }

  // --- arena -------------------------------------------------------------

  /**
   * Room for `length` bytes at the arena's head, evicting from its tail as
   * needed. The records run from the tail to the head, wrapping at the end
   * of the arena; `used` counts their bytes (and skipped ends), so that a
   * head equal to the tail means empty when it is 0 and full otherwise.
   */
  allocate(base: number, length: number): number {
    const control = base >> 2;
    const i32 = this.i32;
    const arena = this.arena;
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
      this.evictTail(base, true);
    }
    throw new Error("Cannot store in the shared cache: its arena is inconsistent");
  }

  #claim(control: number, arenaStart: number, head: number, length: number): number {
    const next = head + length;
    this.i32[control + C_HEAD] = next === this.arena ? 0 : next;
    this.i32[control + C_USED]! += length;
    return arenaStart + head;
  }

  /**
   * Frees the record at the arena's tail. A live record that was hit since
   * it was written is moved to the head instead, its mark cleared, when
   * `secondChance` allows (not when the entry bound is being enforced).
   */
  evictTail(base: number, secondChance: boolean): void {
    const control = base >> 2;
    const i32 = this.i32;
    const arenaStart = this.#arenaStart(base);
    const tail = i32[control + C_TAIL]!;
    const record = arenaStart + tail;
    const length = i32[(record + R_LENGTH) >> 2]!;
    const size = Math.abs(length);
    const next = tail + size;
    i32[control + C_TAIL] = next === this.arena ? 0 : next;
    i32[control + C_USED]! -= size;
    if (length < 0) return;
    const state = i32[(record + R_STATE) >> 2]!;
    if (state === DEAD) return;
    const slot = this.slotOf(base, i32[(record + R_HASH) >> 2]!, record);
    if (secondChance && state === REFERENCED) {
      // Its bytes are free now but not yet reused: move them to the head.
      const moved = this.allocate(base, length);
      this.u8.copyWithin(moved, record, record + length);
      i32[(moved + R_STATE) >> 2] = LIVE;
      i32[((base + CONTROL_BYTES) >> 2) + slot] = moved - arenaStart + 1;
      return;
    }
    this.unindex(base, slot);
    i32[control + C_BYTES]! -= length;
    i32[control + C_EVICTIONS]!++;
  }

  /** Marks an indexed record removed (its bytes are reclaimed when the tail passes it). */
  drop(base: number, slot: number): void {
    const record = this.recordAt(base, slot);
    this.i32[(record + R_STATE) >> 2] = DEAD;
    this.i32[(base >> 2) + C_BYTES]! -= this.i32[(record + R_LENGTH) >> 2]!;
    this.unindex(base, slot);
  }

  /** Empties a shard's index and arena (not its lock). */
  clear(base: number): void {
    const control = base >> 2;
    for (const word of [C_HEAD, C_TAIL, C_USED, C_COUNT, C_BYTES]) this.i32[control + word] = 0;
    this.i32.fill(0, (base + CONTROL_BYTES) >> 2, (base + CONTROL_BYTES + 4 * this.slots) >> 2);
  }

  #arenaStart(base: number): number {
    return base + CONTROL_BYTES + 8 * this.slots;
  }

  // --- index -------------------------------------------------------------

  /** The index slot holding `key`, or -1. */
  find(base: number, key: string, hash: number): number {
    const i32 = this.i32;
    const u8 = this.u8;
    const slots = (base + CONTROL_BYTES) >> 2;
    const hashes = slots + this.slots;
    const mask = this.slots - 1;
    const arenaStart = base + CONTROL_BYTES + 8 * this.slots;
    for (let slot = hash & mask;; slot = (slot + 1) & mask) {
      const stored = i32[slots + slot]!;
      if (stored === 0) return -1;
      if (i32[hashes + slot] !== hash) continue;
      const record = arenaStart + stored - 1;
      if (this.u16[(record + R_KEY_LENGTH) >> 1] !== key.length) continue;
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
  slotOf(base: number, hash: number, record: number): number {
    const slots = (base + CONTROL_BYTES) >> 2;
    const mask = this.slots - 1;
    const target = record - (base + CONTROL_BYTES + 8 * this.slots) + 1;
    for (let slot = hash & mask, n = 0; n <= mask; slot = (slot + 1) & mask, n++) {
      if (this.i32[slots + slot] === target) return slot;
    }
    throw new Error("Cannot find a cached record in its index");
  }

  /** The byte offset of the record an index slot points at. */
  recordAt(base: number, slot: number): number {
    const stored = this.i32[((base + CONTROL_BYTES) >> 2) + slot]!;
    return base + CONTROL_BYTES + 8 * this.slots + stored - 1;
  }

  /** Adds a record to the index. */
  index(base: number, hash: number, record: number): void {
    const i32 = this.i32;
    const slots = (base + CONTROL_BYTES) >> 2;
    const hashes = slots + this.slots;
    const mask = this.slots - 1;
    let slot = hash & mask;
    while (i32[slots + slot] !== 0) slot = (slot + 1) & mask;
    i32[slots + slot] = record - (base + CONTROL_BYTES + 8 * this.slots) + 1;
    i32[hashes + slot] = hash;
    i32[(base >> 2) + C_COUNT]!++;
  }

  /** Removes a slot's entry from the index (backward shift, no tombstones). */
  unindex(base: number, hole: number): void {
    const i32 = this.i32;
    const slots = (base + CONTROL_BYTES) >> 2;
    const hashes = slots + this.slots;
    const mask = this.slots - 1;
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
}
