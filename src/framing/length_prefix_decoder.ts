/**
 * RFC 1035 §4.2.2 framing: on TCP and TLS every DNS message is preceded by
 * its length as two octets. The splitter copes with any split of the input:
 * one octet at a time, a prefix split across chunks, several messages in one
 * chunk (RFC 7766 §8). Connections read through it with `readMessages`.
 *
 * @module
 */

/**
 * The framing state machine on its own, synchronous: feed it chunks, it calls
 * back with each complete message (see `readMessages`).
 *
 * Messages that arrive whole inside one chunk are passed on as views of that
 * chunk (no copy); only messages split across chunks are assembled in a new
 * buffer.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { LengthPrefixSplitter } from "./length_prefix_decoder.ts";
 *
 * const messages: number[][] = [];
 * const splitter = new LengthPrefixSplitter((message) => void messages.push([...message]));
 * splitter.push(new Uint8Array([0, 2, 10]));
 * splitter.push(new Uint8Array([11, 0, 1, 12]));
 * assert.deepEqual(messages, [[10, 11], [12]]);
 * assert.equal(splitter.midMessage, false);
 * ```
 */
export class LengthPrefixSplitter {
  readonly #onMessage: (message: Uint8Array, isView: boolean) => void;
  /** Message being assembled. */
  #partial: Uint8Array | null = null;
  /** Octets of `#partial` received so far. */
  #filled = 0;
  /** First prefix octet when the prefix was split, else -1. */
  #highByte = -1;

  /**
   * @param onMessage Called with each message, and whether it is a view of
   * the chunk being pushed (true) or a buffer of its own (false).
   */
  constructor(onMessage: (message: Uint8Array, isView: boolean) => void) {
    this.#onMessage = onMessage;
  }

  /** True when the input so far ends inside a message (or its prefix). */
  get midMessage(): boolean {
    return this.#partial !== null || this.#highByte >= 0;
  }

  /**
   * Takes the next chunk of the stream.
   *
   * @param chunk Any number of octets.
   */
  push(chunk: Uint8Array): void {
    let offset = 0;
    while (offset < chunk.length) {
      const partial = this.#partial;
      if (partial !== null) {
        const take = Math.min(partial.length - this.#filled, chunk.length - offset);
        partial.set(chunk.subarray(offset, offset + take), this.#filled);
        this.#filled += take;
        offset += take;
        if (this.#filled === partial.length) {
          this.#partial = null;
          this.#onMessage(partial, false);
        }
        continue;
      }
      let length: number;
      if (this.#highByte >= 0) {
        length = (this.#highByte << 8) | chunk[offset]!;
        this.#highByte = -1;
        offset += 1;
      } else if (offset + 1 < chunk.length) {
        length = (chunk[offset]! << 8) | chunk[offset + 1]!;
        offset += 2;
      } else {
        this.#highByte = chunk[offset]!;
        offset += 1;
        continue;
      }
      if (offset + length <= chunk.length) {
        this.#onMessage(chunk.subarray(offset, offset + length), true);
        offset += length;
      } else {
        this.#partial = new Uint8Array(length);
        this.#filled = 0;
      }
    }
  }
}

/**
 * Prefixes a message with its two-octet length, in one buffer, so that both
 * go out in a single write (RFC 7858 §3.3, RFC 7766 §8).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { frame } from "./length_prefix_decoder.ts";
 *
 * assert.deepEqual(frame(new Uint8Array([7, 8, 9])), new Uint8Array([0, 3, 7, 8, 9]));
 * ```
 *
 * @param message A DNS message of at most 65535 octets.
 * @returns The length prefix followed by the message.
 * @throws {RangeError} When the message is longer than 65535 octets.
 */
export function frame(message: Uint8Array): Uint8Array {
  if (message.length > 0xffff) {
    throw new RangeError(`Cannot frame message: ${message.length} octets exceed 65535`);
  }
  const framed = new Uint8Array(message.length + 2);
  framed[0] = message.length >>> 8;
  framed[1] = message.length & 0xff;
  framed.set(message, 2);
  return framed;
}
