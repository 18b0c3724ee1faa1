/**
 * A hash table from string keys to values for entries that come and go
 * with every query: the resolver's exchanges in flight, and the cache's
 * entries when a flood of unique names evicts one per answer.
 *
 * Not a Map, on purpose: a long-lived Map that takes and drops an entry per
 * query is rehashed over and over, and V8 leaves each old table behind in
 * the old generation, still pointing at the young entries it held. Until
 * the next full collection the scavenger treats those pointers as live, so
 * every query that waited in the Map, with all it holds, is promoted. In a
 * pinned run over UDP with unique names (dnsperf -c 10 -q 200, cache off),
 * leaving out the resolver's Map of exchanges in flight took the bytes
 * promoted per scavenge from 0.41 MB to 0 (`--trace-gc-nvp`). Here a
 * deleted entry's slots are overwritten at once, and nothing old keeps it.
 *
 * Open addressing with linear probing; a delete shifts the entries after
 * it back, so there are no tombstones. Keys are hashed with a per-process
 * random key (HalfSipHash-1-3), so names cannot be crafted to pile up in
 * one probe run, as they could under a fixed hash (the names of a zone are
 * the choice of whoever runs it). The table doubles when half full and
 * never shrinks (it keeps the size of its busiest moment; for the cache,
 * its bound in entries).
 *
 * @module
 */

/** Slots in a new table. */
const INITIAL_CAPACITY = 256;

/** A string-keyed table of values (see the module documentation for why not a Map). */
export class KeyTable<V> {
  #keys: (string | null)[];
  #values: (V | null)[];
  /** Each key's hash, compared before the key itself. */
  #hashes: Int32Array;
  #mask: number;
  #size = 0;

  /** @param capacity Slots to start with (rounded up to a power of two). */
  constructor(capacity = INITIAL_CAPACITY) {
    let slots = 8;
    while (slots < capacity) slots *= 2;
    this.#keys = new Array(slots).fill(null);
    this.#values = new Array(slots).fill(null);
    this.#hashes = new Int32Array(slots);
    this.#mask = slots - 1;
  }

  /** Number of entries. */
  get size(): number {
    return this.#size;
  }

  /**
   * Finds a value.
   *
   * @example Usage
   * ```ts
   * import assert from "node:assert/strict";
   * import { KeyTable } from "./key_table.ts";
   *
   * const table = new KeyTable<number>();
   * table.set("example.com.", 1);
   * assert.equal(table.get("example.com."), 1);
   * assert.equal(table.delete("example.com."), true);
   * assert.equal(table.get("example.com."), undefined);
   * ```
   *
   * @param key The key.
   * @returns Its value, or undefined.
   */
  get(key: string): V | undefined {
    const slot = this.#find(key, hashKey(key));
    return slot < 0 ? undefined : this.#values[slot]!;
  }

  /**
   * Adds an entry, or replaces the value of the key's entry.
   *
   * @param key The key.
   * @param value Its value.
   */
  set(key: string, value: V): void {
    const hash = hashKey(key);
    const found = this.#find(key, hash);
    if (found >= 0) {
      this.#values[found] = value;
      return;
    }
    if (2 * (this.#size + 1) > this.#keys.length) this.#grow();
    let slot = hash & this.#mask;
    while (this.#keys[slot] !== null) slot = (slot + 1) & this.#mask;
    this.#keys[slot] = key;
    this.#values[slot] = value;
    this.#hashes[slot] = hash;
    this.#size++;
  }

  /**
   * Removes the key's entry.
   *
   * @param key The key.
   * @returns Whether there was one.
   */
  delete(key: string): boolean {
    let hole = this.#find(key, hashKey(key));
    if (hole < 0) return false;
    const keys = this.#keys;
    const mask = this.#mask;
    // Backward shift: move up each following entry whose probe sequence
    // passes the hole, so that lookups never need a tombstone.
    for (let slot = (hole + 1) & mask; keys[slot] !== null; slot = (slot + 1) & mask) {
      const home = this.#hashes[slot]! & mask;
      const stays = hole <= slot ? hole < home && home <= slot : hole < home || home <= slot;
      if (stays) continue;
      keys[hole] = keys[slot]!;
      this.#values[hole] = this.#values[slot]!;
      this.#hashes[hole] = this.#hashes[slot]!;
      hole = slot;
    }
    keys[hole] = null;
    this.#values[hole] = null;
    this.#size--;
    return true;
  }

  /**
   * How many slots a lookup of the key looks at: 1 when it sits in its home
   * slot (or that slot is empty), more when it had to probe past others.
   * For tests and diagnostics of clustering.
   *
   * @param key The key.
   * @returns Slots looked at, up to the key or the first empty one.
   */
  probeLength(key: string): number {
    const keys = this.#keys;
    const mask = this.#mask;
    const hash = hashKey(key);
    let count = 1;
    for (
      let slot = hash & mask;
      keys[slot] !== null && keys[slot] !== key;
      slot = (slot + 1) & mask
    ) {
      count++;
    }
    return count;
  }

  /** The slot holding the key, or -1. */
  #find(key: string, hash: number): number {
    const keys = this.#keys;
    const mask = this.#mask;
    for (let slot = hash & mask;; slot = (slot + 1) & mask) {
      const candidate = keys[slot];
      if (candidate === null) return -1;
      if (this.#hashes[slot] === hash && candidate === key) return slot;
    }
  }

  #grow(): void {
    const keys = this.#keys;
    const values = this.#values;
    const hashes = this.#hashes;
    const slots = keys.length * 2;
    this.#keys = new Array(slots).fill(null);
    this.#values = new Array(slots).fill(null);
    this.#hashes = new Int32Array(slots);
    this.#mask = slots - 1;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      if (key === null) continue;
      let slot = hashes[i]! & this.#mask;
      while (this.#keys[slot] !== null) slot = (slot + 1) & this.#mask;
      this.#keys[slot] = key;
      this.#values[slot] = values[i]!;
      this.#hashes[slot] = hashes[i]!;
    }
  }
}

/** The process's hash key: 64 random bits, drawn once. */
const [K0, K1] = crypto.getRandomValues(new Int32Array(2)) as unknown as [number, number];

/**
 * The hash of a key in every table of this process, under the process's
 * random key: an attacker who does not know it cannot make names that
 * share a home slot, as they could for a fixed hash. With the unseeded
 * FNV-1a used before, 8000 names crafted to share one took 53-66 ms of CPU
 * to insert and 3.3-3.8 µs per hit, against 2 ms and 0.04-0.09 µs for
 * random names; now both take 1-2 ms and 0.05-0.10 µs
 * (`deno run bench/key_table_flood.ts`, on a loaded two-core machine).
 */
function hashKey(key: string): number {
  if (key === lastKey) return lastHash;
  if (key === previousKey) return previousHash;
  const hash = halfSipHash13(key, K0, K1);
  previousKey = lastKey;
  previousHash = lastHash;
  lastKey = key;
  lastHash = hash;
  return hash;
}

/**
 * The last two keys hashed, and their hashes. A query's key goes through
 * several tables in a row (the cache's lookup, the resolver's exchanges in
 * flight, the cache's store, the exchange's delete), so most lookups hash
 * a key just hashed: an uncached query over UDP asked for six hashes of its
 * key, and now computes one (counted with an in-process proxy and a fake
 * upstream). Comparing a key with one remembered costs no more than
 * hashing it, and nothing when it is the same string object.
 */
let lastKey: string | null = null;
let lastHash = 0;
let previousKey: string | null = null;
let previousHash = 0;

/**
 * HalfSipHash-1-3 of a string's UTF-16 code units (little-endian octets,
 * two code units to a 32-bit word): the keyed 32-bit SipHash that Linux
 * uses for its hash tables (`hsiphash`), a pseudorandom function of its
 * input for anyone who does not know the key, and about as fast as FNV-1a
 * here, since it takes two code units per round.
 *
 * @example Usage (a test vector of Linux's lib/siphash_kunit.c)
 * ```ts
 * import assert from "node:assert/strict";
 * import { halfSipHash13 } from "./key_table.ts";
 *
 * // The octets 00 01 02 03 under the key 00 01 .. 07.
 * assert.equal(halfSipHash13("\u0100\u0302", 0x03020100, 0x07060504) >>> 0, 0x7e059ea6);
 * ```
 *
 * @param key The string.
 * @param k0 The first 32 bits of the key (its octets 0-3, little-endian).
 * @param k1 The last 32 bits of the key.
 * @returns The hash, as a signed 32-bit integer.
 */
export function halfSipHash13(key: string, k0: number, k1: number): number {
  let v0 = k0 | 0;
  let v1 = k1 | 0;
  let v2 = k0 ^ 0x6c796765;
  let v3 = k1 ^ 0x74656462;
  const length = key.length;
  const words = length >>> 1;
  // The last block: the length in octets in the top octet, below it the odd code unit if any.
  const last = ((2 * length) << 24) | ((length & 1) === 1 ? key.charCodeAt(length - 1) : 0);
  // One SipRound per word and one for the last block (c = 1), then three to finish (d = 3):
  // the finishing rounds take no message (m = 0), and 0xff goes into v2 before them.
  for (let i = 0; i < words + 4; i++) {
    const m = i < words
      ? key.charCodeAt(2 * i) | (key.charCodeAt(2 * i + 1) << 16)
      : i === words
      ? last
      : 0;
    v3 ^= m;
    v0 = (v0 + v1) | 0;
    v1 = (v1 << 5) | (v1 >>> 27);
    v1 ^= v0;
    v0 = (v0 << 16) | (v0 >>> 16);
    v2 = (v2 + v3) | 0;
    v3 = (v3 << 8) | (v3 >>> 24);
    v3 ^= v2;
    v0 = (v0 + v3) | 0;
    v3 = (v3 << 7) | (v3 >>> 25);
    v3 ^= v0;
    v2 = (v2 + v1) | 0;
    v1 = (v1 << 13) | (v1 >>> 19);
    v1 ^= v2;
    v2 = (v2 << 16) | (v2 >>> 16);
    v0 ^= m;
    if (i === words) v2 ^= 0xff;
  }
  return v1 ^ v3;
}
