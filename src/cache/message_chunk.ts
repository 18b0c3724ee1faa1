/**
 * Shared buffers for cached messages.
 *
 * Each cached message used to be a buffer of its own. Every buffer has a
 * backing store that V8 tracks and sweeps apart from the JavaScript heap, and
 * under a stream of unique names every answer is cached and soon evicted: in
 * pinned A/B runs (dnsperf -c 10 -q 200, unique names, 8 s, against a local
 * Unbound over TLS), packing the messages into shared chunks took the proxy
 * from 46-48k to 51-53k queries per second, from 21.4 to 19.1 CPU-ms per
 * 1000 queries, and its p99 from about 21 to about 17 ms.
 *
 * A chunk lives as long as any message in it, so the cache counts a whole
 * chunk while it holds at least one entry (see `DnsCache`).
 *
 * @module
 */

/** Bytes in one chunk. */
export const CHUNK_SIZE = 16 * 1024;

/** Messages longer than this get a buffer of their own, so that a chunk holds many messages. */
export const MAX_PACKED_LENGTH = 1024;

/** One shared buffer, filled from the start, never reused once full. */
export class MessageChunk {
  /** The chunk's bytes. */
  readonly bytes: Uint8Array = new Uint8Array(CHUNK_SIZE);
  /** Bytes handed out. */
  used = 0;
  /** Cache entries whose message lies in this chunk. */
  entries = 0;

  /**
   * Copies a message into the chunk.
   *
   * @param message A message of at most {@linkcode MAX_PACKED_LENGTH} octets.
   * @returns Where the copy starts in `bytes`, or -1 when the chunk has no room left for it.
   */
  copy(message: Uint8Array): number {
    const start = this.used;
    if (start + message.length > CHUNK_SIZE) return -1;
    this.bytes.set(message, start);
    this.used = start + message.length;
    return start;
  }
}
