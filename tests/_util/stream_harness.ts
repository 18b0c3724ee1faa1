/**
 * Helpers for testing `TransformStream`s of bytes, in the style of the Deno
 * standard library's stream tests: feed chunks in, compare what comes out,
 * and do so for every way a byte string can be cut into chunks.
 *
 * @module
 */

import assert from "node:assert/strict";
import { LengthPrefixSplitter } from "../../src/framing/length_prefix_decoder.ts";

/**
 * The production framing splitter as a `TransformStream`, so that the
 * harness below can feed it every split of a byte string. A stream that
 * ends inside a message errors with a `SyntaxError`.
 */
export class LengthPrefixStream extends TransformStream<Uint8Array, Uint8Array> {
  /** Creates a stream around a fresh splitter. */
  constructor() {
    // The splitter lives in this closure rather than in a #field: a
    // TransformStream subclass cannot touch `this` before super() returns.
    let controller: TransformStreamDefaultController<Uint8Array>;
    const splitter = new LengthPrefixSplitter((message) => controller.enqueue(message));
    super({
      start(c) {
        controller = c;
      },
      transform(chunk) {
        splitter.push(chunk);
      },
      flush() {
        if (splitter.midMessage) {
          controller.error(new SyntaxError("Cannot read message: stream ended inside a message"));
        }
      },
    });
  }
}

/**
 * Pipes `inputs` through a fresh stream from `makeStream` and checks that it
 * emits exactly `expected` (compared by content, chunk by chunk).
 *
 * @param makeStream Creates the stream under test (called once).
 * @param inputs The chunks written to the stream, in order.
 * @param expected The chunks the stream must emit, in order.
 * @param message Added to the assertion message, e.g. the split points used.
 */
export async function testTransformStream(
  makeStream: () => TransformStream<Uint8Array, Uint8Array>,
  inputs: readonly Uint8Array[],
  expected: readonly Uint8Array[],
  message?: string,
): Promise<void> {
  const output = await collect(makeStream, inputs);
  assert.deepEqual(output, expected, message);
}

/**
 * Pipes `inputs` through a fresh stream from `makeStream` and returns what it
 * emitted (rejects when the stream errors).
 *
 * @param makeStream Creates the stream under test (called once).
 * @param inputs The chunks written to the stream, in order.
 * @returns The emitted chunks, as the stream emitted them (not copied).
 */
export function collect(
  makeStream: () => TransformStream<Uint8Array, Uint8Array>,
  inputs: readonly Uint8Array[],
): Promise<Uint8Array[]> {
  return Array.fromAsync(ReadableStream.from(inputs).pipeThrough(makeStream()));
}

/**
 * Cuts `bytes` at the given positions. Each chunk is a copy in its own buffer,
 * as chunks read from a socket would be; empty chunks occur for repeated or
 * extreme positions and are kept (a stream must cope with them too).
 *
 * @param bytes The byte string.
 * @param positions Cut positions, ascending, each in 0..bytes.length.
 * @returns The chunks; their concatenation equals `bytes`.
 */
export function splitAt(bytes: Uint8Array, positions: readonly number[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const position of positions) {
    assert.ok(position >= start && position <= bytes.length, `bad split position ${position}`);
    chunks.push(bytes.slice(start, position));
    start = position;
  }
  chunks.push(bytes.slice(start));
  return chunks;
}

/**
 * Every way of cutting `bytes` with `cuts` cut positions (positions strictly
 * between 0 and the length, ascending): all single split points for 1, all
 * pairs for 2, and so on.
 *
 * @param bytes The byte string.
 * @param cuts How many cuts each split has (1 or more).
 * @yields The positions of each split, then its chunks.
 */
export function* everySplit(
  bytes: Uint8Array,
  cuts: number,
): Generator<{ positions: number[]; chunks: Uint8Array[] }> {
  function* choose(from: number, left: number, chosen: number[]): Generator<number[]> {
    if (left === 0) {
      yield chosen;
      return;
    }
    for (let position = from; position <= bytes.length - left; position++) {
      yield* choose(position + 1, left - 1, [...chosen, position]);
    }
  }
  for (const positions of choose(1, cuts, [])) {
    yield { positions, chunks: splitAt(bytes, positions) };
  }
}

/**
 * Feeds `bytes` to fresh streams split at every possible point with `cuts`
 * cuts (see {@linkcode everySplit}) and checks each emits `expected`.
 *
 * @param makeStream Creates a stream under test (once per split).
 * @param bytes The whole input.
 * @param expected What the stream must emit, however the input is split.
 * @param cuts How many cut positions per split (1: single splits, 2: pairs).
 * @returns How many splits were tried.
 */
export async function testEverySplit(
  makeStream: () => TransformStream<Uint8Array, Uint8Array>,
  bytes: Uint8Array,
  expected: readonly Uint8Array[],
  cuts = 1,
): Promise<number> {
  let tried = 0;
  for (const { positions, chunks } of everySplit(bytes, cuts)) {
    await testTransformStream(makeStream, chunks, expected, `split at ${positions.join(", ")}`);
    tried++;
  }
  return tried;
}

/**
 * Splits `bytes` into chunks of one octet each.
 *
 * @param bytes The byte string.
 * @returns One chunk per octet.
 */
export function oneByteAtATime(bytes: Uint8Array): Uint8Array[] {
  return Array.from(bytes, (byte) => new Uint8Array([byte]));
}

/**
 * Concatenates byte strings.
 *
 * @param parts The byte strings.
 * @returns A new buffer holding all of them in order.
 */
export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  const result = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    result.set(part, offset);
    offset += part.length;
  }
  return result;
}
