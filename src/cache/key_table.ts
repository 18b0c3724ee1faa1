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
 * it back, so there are no tombstones. The table doubles when half full and
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

/** FNV-1a over the key's UTF-16 code units. */
function hashKey(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  }
  return hash;
}
