/**
 * Reads length-prefixed DNS messages from a connection's byte stream with
 * one reused buffer.
 *
 * A default reader of `conn.readable` allocates a fresh 64 KiB buffer for
 * every read, and piping it through `LengthPrefixDecoder` adds a
 * promise per message. Here a BYOB reader fills the same buffer every time
 * and the messages are handed over synchronously, each copied out to its own
 * exact-size buffer.
 *
 * @module
 */

import { LengthPrefixSplitter } from "./length_prefix_decoder.ts";

/** Size of the reused read buffer: many replies per read, little memory per connection. */
const READ_BUFFER_SIZE = 16 * 1024;

/**
 * Reads messages until the stream ends.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { readMessages } from "./message_reader.ts";
 *
 * const bytes = new Uint8Array([0, 2, 10, 11, 0, 1, 12]);
 * const stream = new ReadableStream({
 *   type: "bytes",
 *   pull(controller) {
 *     controller.enqueue(bytes.slice());
 *     controller.close();
 *   },
 * });
 * const messages: Uint8Array[] = [];
 * await readMessages(stream, (message) => void messages.push(message));
 * assert.deepEqual(messages, [new Uint8Array([10, 11]), new Uint8Array([12])]);
 * ```
 *
 * @param readable A byte stream (`conn.readable`); it is locked, and
 * cancelled when `onMessage` asks to stop.
 * @param onMessage Called with each message, a buffer of its own; return
 * false to stop reading.
 * @param onRead Called after each read, before the messages it completed
 * (e.g. to take the time once for all of them).
 * @returns Settles when the stream ends or reading stops.
 * @throws {SyntaxError} When the stream ends inside a message; any error of the stream.
 */
export async function readMessages(
  readable: ReadableStream<Uint8Array>,
  onMessage: (message: Uint8Array) => boolean | void,
  onRead?: () => void,
): Promise<void> {
  const reader = readable.getReader({ mode: "byob" });
  let stop = false;
  const splitter = new LengthPrefixSplitter((message, isView) => {
    if (!stop && onMessage(isView ? message.slice() : message) === false) stop = true;
  });
  let buffer = new ArrayBuffer(READ_BUFFER_SIZE);
  try {
    while (!stop) {
      const { value, done } = await reader.read(new Uint8Array(buffer));
      if (done) break;
      onRead?.();
      splitter.push(value);
      buffer = value.buffer as ArrayBuffer;
    }
    if (stop) await reader.cancel().catch(() => {});
    else if (splitter.midMessage) {
      throw new SyntaxError("Cannot read message: stream ended inside a message");
    }
  } finally {
    reader.releaseLock();
  }
}
