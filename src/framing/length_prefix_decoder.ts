/**
 * RFC 1035 §4.2.2 framing: on TCP and TLS every DNS message is preceded by
 * its length as two octets. The decoder copes with any split of the input:
 * one octet at a time, a prefix split across chunks, several messages in one
 * chunk (RFC 7766 §8).
 *
 * @module
 */

/**
 * Splits a byte stream into the DNS messages it carries.
 *
 * Messages that arrive whole inside one chunk are passed on as views of that
 * chunk (no copy); only messages split across chunks are assembled in a new
 * buffer. A stream that ends inside a message errors with a `SyntaxError`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { LengthPrefixDecoder } from "./length_prefix_decoder.ts";
 *
 * const input = ReadableStream.from([
 *   new Uint8Array([0]),
 *   new Uint8Array([2, 10, 11, 0, 1]),
 *   new Uint8Array([12]),
 * ]);
 * const messages = await Array.fromAsync(input.pipeThrough(new LengthPrefixDecoder()));
 * assert.deepEqual(messages, [new Uint8Array([10, 11]), new Uint8Array([12])]);
 * ```
 */
export class LengthPrefixDecoder extends TransformStream<Uint8Array, Uint8Array> {
  /** Creates a decoder. */
  constructor() {
    // The state lives in this closure rather than in #fields: a TransformStream
    // subclass cannot touch `this` before super() has received the callbacks.
    let partial: Uint8Array | null = null; // message being assembled
    let filled = 0; // octets of `partial` received so far
    let highByte = -1; // first prefix octet when the prefix was split, else -1
    super({
      transform(chunk, controller) {
        let offset = 0;
        while (offset < chunk.length) {
          if (partial !== null) {
            const take = Math.min(partial.length - filled, chunk.length - offset);
            partial.set(chunk.subarray(offset, offset + take), filled);
            filled += take;
            offset += take;
            if (filled === partial.length) {
              controller.enqueue(partial);
              partial = null;
            }
            continue;
          }
          let length: number;
          if (highByte >= 0) {
            length = (highByte << 8) | chunk[offset]!;
            highByte = -1;
            offset += 1;
          } else if (offset + 1 < chunk.length) {
            length = (chunk[offset]! << 8) | chunk[offset + 1]!;
            offset += 2;
          } else {
            highByte = chunk[offset]!;
            offset += 1;
            continue;
          }
          if (offset + length <= chunk.length) {
            controller.enqueue(chunk.subarray(offset, offset + length));
            offset += length;
          } else {
            partial = new Uint8Array(length);
            filled = 0;
          }
        }
      },
      flush(controller) {
        if (partial !== null || highByte >= 0) {
          controller.error(new SyntaxError("Cannot read message: stream ended inside a message"));
        }
      },
    });
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
