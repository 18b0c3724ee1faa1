/**
 * A heap trimmer: a full garbage collection whenever the V8 heap has grown
 * by a set amount over what the last full collection left.
 *
 * Why: under load the proxy promotes short-lived query state (promises and
 * listeners waiting for an upstream) to V8's old generation, and V8 leaves
 * the old generation to grow to a limit it sizes from the allocation rate,
 * not from the live data: 36–77 MiB of heap at peak against about 12 MiB
 * live after a full collection (docs/performance.md, "Memory"). Collecting
 * when the heap has grown by a few MiB keeps it near its live size, and V8
 * gives the emptied pages back to the kernel after the collection.
 *
 * It needs V8's `gc` extension (`--v8-flags=--expose-gc`), which the start
 * and compile tasks do not pass: a forced collection pauses the loop ~20 ms,
 * so the trimmer is an opt-in (docs/deployment.md); without the flag it does
 * nothing. A trimmer
 * acts on the isolate it runs in: each worker of `--workers N` starts its
 * own.
 *
 * @module
 */

/** V8's `gc()` of `--expose-gc`, with the options its extension takes. */
type GcFunction = (options?: { type?: "major" | "minor"; execution?: "sync" | "async" }) => unknown;

/** What {@linkcode HeapTrimmer} reads of the heap: Deno.memoryUsage() has it. */
export interface HeapUsage {
  /** Bytes of the V8 heap in use by objects, live or not yet collected. */
  heapUsed: number;
}

/** Options of {@linkcode HeapTrimmer}. */
export interface HeapTrimmerOptions {
  /** Collect when `heapUsed` exceeds what the last full collection left by this many bytes. */
  growthBytes: number;
  /**
   * How often the timer of {@linkcode HeapTrimmer.start} checks the heap.
   *
   * @default {500}
   */
  intervalMs?: number;
}

/** The check interval when none is given. */
const DEFAULT_INTERVAL_MS = 500;

/** V8's `gc` function when the runtime was started with `--expose-gc`, else null. */
export function exposedGc(): GcFunction | null {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === "function" ? gc as GcFunction : null;
}

/**
 * Runs a full collection when the heap has grown by `growthBytes` over the
 * size the previous full collection left. {@linkcode check} does one
 * check; {@linkcode start} checks on an unref'd timer, so that the trimmer
 * never keeps the process alive.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { HeapTrimmer } from "./heap_trimmer.ts";
 *
 * const trimmer = new HeapTrimmer({ growthBytes: 16 * 1024 * 1024 });
 * trimmer.start(); // checks every 500 ms; does nothing without --expose-gc
 * // The heap has not grown by 16 MiB since the trimmer was made: no collection.
 * assert.equal(trimmer.check(), false);
 * trimmer.stop();
 * ```
 */
export class HeapTrimmer {
  readonly #gc: GcFunction | null = exposedGc();
  readonly #growthBytes: number;
  readonly #intervalMs: number;
  /** `heapUsed` right after the last full collection the trimmer ran (its start for the first). */
  #baseline: number;
  #collections = 0;
  #timer: ReturnType<typeof setInterval> | null = null;

  /** @param options The growth that triggers a collection, and the check interval. */
  constructor(options: HeapTrimmerOptions) {
    if (!(options.growthBytes > 0)) {
      throw new RangeError(`Cannot trim the heap: growth ${options.growthBytes} is not positive`);
    }
    this.#growthBytes = options.growthBytes;
    this.#intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
    this.#baseline = Deno.memoryUsage().heapUsed;
  }

  /** Whether the runtime exposes `gc` (`--expose-gc`): without it the trimmer never collects. */
  get enabled(): boolean {
    return this.#gc !== null;
  }

  /** The full collections this trimmer has run. */
  get collections(): number {
    return this.#collections;
  }

  /**
   * Checks the heap once and runs a full collection if it has grown by
   * `growthBytes` since the last one.
   *
   * @param usage The heap's use now.
   * @returns True when it ran a collection.
   */
  check(usage: HeapUsage = Deno.memoryUsage()): boolean {
    if (this.#gc === null) return false;
    // A heap smaller than the baseline means V8 collected on its own: follow it down.
    if (usage.heapUsed < this.#baseline) this.#baseline = usage.heapUsed;
    if (usage.heapUsed - this.#baseline < this.#growthBytes) return false;
    this.#gc({ type: "major", execution: "sync" });
    this.#collections++;
    this.#baseline = Deno.memoryUsage().heapUsed;
    return true;
  }

  /** Checks every `intervalMs` until {@linkcode stop}; the timer never keeps the process alive. */
  start(): void {
    if (this.#gc === null || this.#timer !== null) return;
    const timer = setInterval(() => this.check(), this.#intervalMs);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /** Stops the timer of {@linkcode start}. */
  stop(): void {
    if (this.#timer === null) return;
    clearInterval(this.#timer);
    this.#timer = null;
  }
}

/**
 * The growth that triggers a collection in {@linkcode startHeapTrimmer}: 8 MiB cut the peak RSS
 * under the bench load as much as 4 MiB did, with half the collections (docs/performance.md).
 */
export const DEFAULT_GROWTH_BYTES = 8 * 1024 * 1024;

/**
 * Starts the trimmer of this isolate (the main thread, or one worker of `--workers N`) with
 * {@linkcode DEFAULT_GROWTH_BYTES}; it does nothing unless V8 exposes `gc`.
 *
 * @returns The trimmer, to stop on shutdown.
 */
export function startHeapTrimmer(): HeapTrimmer {
  const trimmer = new HeapTrimmer({ growthBytes: DEFAULT_GROWTH_BYTES });
  trimmer.start();
  return trimmer;
}
