/**
 * Writes DNS frames to a stream, many per write when they come together.
 *
 * Frames queued while the event loop works through the current batch of
 * ready I/O (and while a write is in progress) go out together in one
 * write, flushed by `setImmediate`, which runs right after that batch
 * without a timer's delay. Under load one TLS record and one op carry many
 * queries (a write per query was the largest cost in the profile: about 20 %
 * of the CPU, down to 2 %), and a lone query still leaves within the same
 * event-loop turn. Each frame already holds its length prefix, so
 * concatenated frames are still valid RFC 7858 §3.3 framing (and RFC 7766
 * §8 for answers to a TCP client).
 *
 * A frame that the peer has not taken within `stallTimeoutMs` of being
 * queued (a client that never reads, or reads a little now and then) fails
 * the writer. The deadline runs from when the frame was queued, not from
 * when its write began, so a queue cannot outlive it by being written one
 * slow write at a time; still one timer per write, not per frame.
 *
 * @module
 */

import { setImmediate } from "node:timers";

/**
 * Most octets joined into one write. A write the peer does not take keeps
 * its buffer alive until the socket goes, even after a stall closed the
 * connection, so one write must stay small; 64 KiB is still hundreds of
 * DNS messages.
 */
const MAX_WRITE_BYTES = 64 * 1024;

/** Coalesces frames into few writes. */
export class CoalescingWriter {
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #onError: (error: unknown) => void;
  /** Frames waiting for the next write. */
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  /** When each frame of `#queue` was queued (`performance.now()`); kept only with a stall timeout. */
  #queuedAt: number[] = [];
  readonly #stallTimeoutMs: number;
  readonly #onSettled: ((counted: number, uncounted: number) => void) | undefined;
  #writing = false;
  /** Counted frames in the write under way. */
  #inWrite = 0;
  /** Uncounted frames in the write under way. */
  #inWriteUncounted = 0;
  /** When the oldest frame of the write under way was queued. */
  #inWriteSince = 0;
  /** Frames queued with `counted` false; rare (e.g. REFUSED), so looked up only when present. */
  readonly #uncounted = new WeakSet<Uint8Array>();
  #uncountedQueued = 0;
  #flushScheduled = false;
  #stopped = false;
  /** Resolvers of `drained()` calls waiting for the queue to empty. */
  #drainWaiters: (() => void)[] = [];

  /**
   * @param writer Where the bytes go.
   * @param onError Called once when a write fails or stalls; nothing is written after.
   * @param options `stallTimeoutMs`: longest time a frame may wait, from
   * being queued to being written (unlimited when omitted); `onSettled`:
   * told how many frames were written, or dropped when the writer stopped
   * (counted and uncounted apart), so that whoever holds resources per
   * frame can free them.
   */
  constructor(
    writer: WritableStreamDefaultWriter<Uint8Array>,
    onError: (error: unknown) => void,
    options: {
      stallTimeoutMs?: number;
      onSettled?: (counted: number, uncounted: number) => void;
    } = {},
  ) {
    this.#writer = writer;
    this.#onError = onError;
    this.#stallTimeoutMs = options.stallTimeoutMs ?? 0;
    this.#onSettled = options.onSettled;
  }

  /** Settles once everything queued so far is written, or the writer stopped. */
  drained(): Promise<void> {
    if (this.#stopped || (!this.#writing && !this.#flushScheduled)) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /**
   * Queues a frame; it is written in this event-loop turn or with the next write.
   *
   * @param frame Length prefix and message.
   * @param counted Whether `onSettled` counts this frame as counted (else as uncounted).
   */
  send(frame: Uint8Array, counted = true): void {
    if (this.#stopped) return;
    if (!counted) {
      this.#uncounted.add(frame);
      this.#uncountedQueued++;
    }
    this.#queue.push(frame);
    if (this.#stallTimeoutMs > 0) this.#queuedAt.push(performance.now());
    this.#queuedBytes += frame.length;
    if (this.#writing || this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  /** Drops what is queued and writes nothing more. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    const queuedCounted = this.#counted(this.#queue);
    const counted = queuedCounted + this.#inWrite;
    const uncounted = this.#queue.length - queuedCounted + this.#inWriteUncounted;
    this.#queue = [];
    this.#queuedAt = [];
    this.#queuedBytes = 0;
    this.#inWrite = 0;
    this.#inWriteUncounted = 0;
    if (counted + uncounted > 0) this.#onSettled?.(counted, uncounted);
    this.#wakeDrainWaiters();
  }

  async #flush(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0 && !this.#stopped) {
        const chunk = this.#takeChunk();
        await this.#write(chunk);
        const counted = this.#inWrite;
        const uncounted = this.#inWriteUncounted;
        this.#inWrite = 0;
        this.#inWriteUncounted = 0;
        if (counted + uncounted > 0) this.#onSettled?.(counted, uncounted);
      }
    } catch (error) {
      this.stop();
      this.#onError(error);
    } finally {
      this.#writing = false;
      this.#wakeDrainWaiters();
    }
  }

  /** Takes queued frames, up to MAX_WRITE_BYTES (or one larger frame), as one buffer. */
  #takeChunk(): Uint8Array {
    const queue = this.#queue;
    this.#inWriteSince = this.#queuedAt[0] ?? 0;
    if (this.#queuedBytes <= MAX_WRITE_BYTES) {
      this.#inWrite = this.#counted(queue);
      this.#inWriteUncounted = queue.length - this.#inWrite;
      this.#queue = [];
      if (this.#queuedAt.length > 0) this.#queuedAt = [];
      const bytes = this.#queuedBytes;
      this.#queuedBytes = 0;
      return queue.length === 1 ? queue[0]! : concat(queue, bytes);
    }
    let count = 0;
    let bytes = 0;
    while (
      count < queue.length && (count === 0 || bytes + queue[count]!.length <= MAX_WRITE_BYTES)
    ) {
      bytes += queue[count++]!.length;
    }
    const taken = queue.splice(0, count);
    if (this.#queuedAt.length > 0) this.#queuedAt.splice(0, count);
    this.#inWrite = this.#counted(taken);
    this.#inWriteUncounted = taken.length - this.#inWrite;
    this.#queuedBytes -= bytes;
    return taken.length === 1 ? taken[0]! : concat(taken, bytes);
  }

  /** How many of these frames `onSettled` counts; they leave the queue. */
  #counted(frames: readonly Uint8Array[]): number {
    if (this.#uncountedQueued === 0) return frames.length;
    let counted = 0;
    for (const frame of frames) {
      if (this.#uncounted.has(frame)) this.#uncountedQueued--;
      else counted++;
    }
    return counted;
  }

  /** Writes a chunk before its oldest frame has waited `stallTimeoutMs`, or throws. */
  async #write(chunk: Uint8Array): Promise<void> {
    if (this.#stallTimeoutMs === 0) return await this.#writer.write(chunk);
    const left = this.#inWriteSince + this.#stallTimeoutMs - performance.now();
    const stall = () =>
      new StalledWriteError(`frame not taken within ${this.#stallTimeoutMs} ms of being queued`);
    if (left <= 0) throw stall();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(stall()), left);
    });
    try {
      await Promise.race([this.#writer.write(chunk), stalled]);
    } finally {
      clearTimeout(timer);
    }
  }

  #wakeDrainWaiters(): void {
    if (this.#writing && !this.#stopped) return;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const wake of waiters) wake();
  }
}

/** A write the peer did not take in time. */
export class StalledWriteError extends Error {
  /** @param message What stalled. */
  constructor(message: string) {
    super(message);
    this.name = "StalledWriteError";
  }
}

/** Joins frames into one buffer for a single write. */
function concat(frames: readonly Uint8Array[], length: number): Uint8Array {
  const joined = new Uint8Array(length);
  let offset = 0;
  for (const frame of frames) {
    joined.set(frame, offset);
    offset += frame.length;
  }
  return joined;
}
