/**
 * The lock of one shard of the {@linkcode SharedCache}: a word of its
 * control block taken with `Atomics.compareExchange`, holding the owner's
 * number (1 or more; 0 is free), and a count of the threads waiting on it.
 *
 * A taker spins a little, then sleeps in `Atomics.wait` for at most a
 * millisecond at a time; a release wakes one waiter if any is counted. A
 * thread that dies while holding a lock (only a forced termination can: an
 * exception unwinds and releases it) would stop every other, so the lock
 * records its holder and {@linkcode releaseShard} lets the supervisor free
 * it.
 *
 * @module
 */

import { C_LOCK, C_WAITERS } from "./shard_table.ts";

/**
 * Takes a shard's lock, waiting for it as long as it takes.
 *
 * @param i32 The cache's memory.
 * @param base The shard's byte offset.
 * @param owner This thread's number (1 or more).
 */
export function lockShard(i32: Int32Array, base: number, owner: number): void {
  const lock = (base >> 2) + C_LOCK;
  if (Atomics.compareExchange(i32, lock, 0, owner) === 0) return;
  for (let spin = 0;; spin++) {
    const holder = Atomics.load(i32, lock);
    if (holder === 0) {
      if (Atomics.compareExchange(i32, lock, 0, owner) === 0) return;
    } else if (spin >= 64) {
      Atomics.add(i32, (base >> 2) + C_WAITERS, 1);
      Atomics.wait(i32, lock, holder, 1);
      Atomics.sub(i32, (base >> 2) + C_WAITERS, 1);
    }
  }
}

/**
 * Releases a shard's lock held by this thread, waking one waiter.
 *
 * @param i32 The cache's memory.
 * @param base The shard's byte offset.
 */
export function unlockShard(i32: Int32Array, base: number): void {
  Atomics.store(i32, (base >> 2) + C_LOCK, 0);
  if (Atomics.load(i32, (base >> 2) + C_WAITERS) !== 0) {
    Atomics.notify(i32, (base >> 2) + C_LOCK, 1);
  }
}

/**
 * The number of the thread holding a shard's lock.
 *
 * @param i32 The cache's memory.
 * @param base The shard's byte offset.
 * @returns The holder's number, 0 when free.
 */
export function shardHolder(i32: Int32Array, base: number): number {
  return Atomics.load(i32, (base >> 2) + C_LOCK);
}

/**
 * Releases a shard's lock whatever thread holds it, waking every waiter
 * (for a holder that died).
 *
 * @param i32 The cache's memory.
 * @param base The shard's byte offset.
 */
export function releaseShard(i32: Int32Array, base: number): void {
  const lock = (base >> 2) + C_LOCK;
  Atomics.store(i32, lock, 0);
  Atomics.notify(i32, lock);
}
