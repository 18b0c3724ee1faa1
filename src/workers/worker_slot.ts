/**
 * One worker's place under the supervisor (the thread in it now, what the
 * supervisor knows of it) and the delays before a worker is started again.
 *
 * @module
 */

import type { SocketDescriptor } from "../frontend/socket_descriptor.ts";

/** A worker that dies again within this long is restarted after a growing delay. */
const QUICK_DEATH_MS = 10_000;
const MAX_RESTART_DELAY_MS = 5_000;

/** One worker's place: the thread in it now, and what the supervisor knows of it. */
export interface Slot {
  readonly id: number;
  /** Null until its first start. */
  worker: Worker | null;
  descriptors: readonly SocketDescriptor[];
  /** The worker's last /metrics page: it stands in for a page that comes too late. */
  lastPage: string;
  running: boolean;
  startedAt: number;
  restartDelayMs: number;
  /** Told when the worker reports it has stopped (or dies while stopping). */
  stopped: (() => void) | null;
}

/**
 * A slot with no worker in it yet.
 *
 * @param id The worker's number.
 * @returns The slot.
 */
export function emptySlot(id: number): Slot {
  return {
    id,
    worker: null,
    descriptors: [],
    lastPage: "",
    running: false,
    startedAt: performance.now(),
    restartDelayMs: 0,
    stopped: null,
  };
}

/**
 * The delay before the next try after a worker could not start: double the
 * last (at least 100 ms, at most {@linkcode MAX_RESTART_DELAY_MS}).
 *
 * @param slot The worker's slot.
 * @returns The delay in milliseconds.
 */
export function retryDelayMs(slot: Slot): number {
  return Math.min(MAX_RESTART_DELAY_MS, Math.max(100, slot.restartDelayMs * 2));
}

/**
 * The delay before restarting a worker that died: none after a long run,
 * growing as with {@linkcode retryDelayMs} when it dies within
 * {@linkcode QUICK_DEATH_MS} of its start.
 *
 * @param slot The worker's slot.
 * @returns The delay in milliseconds.
 */
export function restartDelayMs(slot: Slot): number {
  const quick = performance.now() - slot.startedAt < QUICK_DEATH_MS;
  return quick ? retryDelayMs(slot) : 0;
}
