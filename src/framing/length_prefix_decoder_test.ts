import assert from "node:assert/strict";
import { frame } from "./length_prefix_decoder.ts";
import {
  collect,
  concat,
  everySplit,
  LengthPrefixStream,
  oneByteAtATime,
  splitAt,
  testEverySplit,
  testTransformStream,
} from "../../tests/_util/stream_harness.ts";

// The splitter through the harness's stream adapter, fed every kind of split.
const decoder = () => new LengthPrefixStream();

/** A message of `length` octets whose content depends on `seed`, so messages differ. */
function message(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 7 + seed * 31 + 1) & 0xff);
}

/** Frames each message and concatenates the frames. */
function stream(messages: readonly Uint8Array[]): Uint8Array {
  return concat(...messages.map(frame));
}

// Three messages of different lengths, one empty and one of 300 octets (its
// prefix 0x01 0x2c has a non-zero high octet).
const MESSAGES = [message(5, 1), message(0, 2), message(300, 3)];
const STREAM = stream(MESSAGES);
// A shorter stream for the quadratic and cubic split tests.
const SHORT_MESSAGES = [message(7, 4), message(0, 5), message(20, 6)];
const SHORT_STREAM = stream(SHORT_MESSAGES);

Deno.test("LengthPrefixSplitter emits all messages for every single split point", async () => {
  assert.equal(STREAM.length, 2 + 5 + 2 + 0 + 2 + 300);
  const tried = await testEverySplit(decoder, STREAM, MESSAGES, 1);
  assert.equal(tried, STREAM.length - 1);
});

Deno.test("LengthPrefixSplitter emits all messages for every pair of split points", async () => {
  const tried = await testEverySplit(decoder, SHORT_STREAM, SHORT_MESSAGES, 2);
  const n = SHORT_STREAM.length - 1;
  assert.equal(tried, (n * (n - 1)) / 2);
});

Deno.test("LengthPrefixSplitter emits all messages for every triple of split points", async () => {
  await testEverySplit(decoder, SHORT_STREAM, SHORT_MESSAGES, 3);
});

Deno.test("LengthPrefixSplitter copes with empty chunks between any two octets", async () => {
  for (const { positions } of everySplit(SHORT_STREAM, 1)) {
    const chunks = splitAt(SHORT_STREAM, [positions[0]!, positions[0]!]);
    assert.equal(chunks[1]!.length, 0);
    await testTransformStream(decoder, [new Uint8Array(0), ...chunks], SHORT_MESSAGES);
  }
});

Deno.test("LengthPrefixSplitter emits all messages when fed one byte at a time", async () => {
  await testTransformStream(decoder, oneByteAtATime(STREAM), MESSAGES);
  await testTransformStream(decoder, oneByteAtATime(SHORT_STREAM), SHORT_MESSAGES);
});

Deno.test("LengthPrefixSplitter emits all messages from a single chunk", async () => {
  await testTransformStream(decoder, [STREAM], MESSAGES);
});

Deno.test("LengthPrefixSplitter emits messages whole inside a chunk as views of it", async () => {
  const chunk = STREAM.slice();
  const output = await collect(decoder, [chunk]);
  assert.equal(output.length, 3);
  const offsets = [2, 2 + 5 + 2, 2 + 5 + 2 + 0 + 2];
  output.forEach((view, i) => {
    assert.equal(view.buffer, chunk.buffer, `message ${i} is a view of the chunk`);
    assert.equal(view.byteOffset, offsets[i]);
    assert.equal(view.length, MESSAGES[i]!.length);
  });
});

Deno.test("LengthPrefixSplitter assembles messages split across chunks into new buffers", async () => {
  const chunks = splitAt(STREAM, [100]);
  const output = await collect(decoder, chunks);
  assert.deepEqual(output, MESSAGES);
  assert.equal(output[0]!.buffer, chunks[0]!.buffer, "first message is whole in chunk 0");
  assert.notEqual(output[2]!.buffer, chunks[0]!.buffer);
  assert.notEqual(output[2]!.buffer, chunks[1]!.buffer);
  // The assembled copy does not change when the input chunks are reused.
  chunks.forEach((chunk) => chunk.fill(0xee));
  assert.deepEqual(output[2], MESSAGES[2]);
});

Deno.test("LengthPrefixSplitter reads a length prefix split across chunks", async () => {
  const big = message(300, 9);
  // The high prefix octet (0x01) ends one chunk, the low one (0x2c) starts the next.
  await testTransformStream(decoder, [new Uint8Array([1]), concat(new Uint8Array([0x2c]), big)], [
    big,
  ]);
  // The same after a complete message in the first chunk, and with the message
  // itself arriving in a third chunk.
  const small = message(3, 10);
  await testTransformStream(
    decoder,
    [concat(frame(small), new Uint8Array([1])), new Uint8Array([0x2c]), big],
    [small, big],
  );
  // A zero-length message whose prefix is split.
  await testTransformStream(decoder, [new Uint8Array([0]), new Uint8Array([0])], [
    new Uint8Array(0),
  ]);
});

Deno.test("LengthPrefixSplitter emits a 65535-octet message split across chunks", async () => {
  const largest = message(65535, 11);
  const framed = frame(largest);
  assert.deepEqual([...framed.subarray(0, 2)], [0xff, 0xff]);
  await testTransformStream(decoder, splitAt(framed, [1, 2, 1000, 40000]), [largest]);
  await testTransformStream(decoder, [framed], [largest]);
});

Deno.test("LengthPrefixSplitter emits nothing for an empty stream", async () => {
  await testTransformStream(decoder, [], []);
  await testTransformStream(decoder, [new Uint8Array(0)], []);
});

Deno.test("LengthPrefixSplitter errors with SyntaxError when the stream ends inside a prefix", async () => {
  for (
    const chunks of [[new Uint8Array([0])], [concat(frame(message(3, 1)), new Uint8Array([0]))]]
  ) {
    await assert.rejects(collect(decoder, chunks), (error: unknown) => {
      assert.ok(error instanceof SyntaxError);
      assert.match(error.message, /stream ended inside a message/);
      return true;
    });
  }
});

Deno.test("LengthPrefixSplitter errors with SyntaxError when the stream ends inside a message", async () => {
  // Every proper prefix of the stream that does not end on a frame boundary.
  const boundaries = new Set([0, 7, 9, STREAM.length]);
  for (let end = 1; end < STREAM.length; end++) {
    const input = STREAM.subarray(0, end);
    if (boundaries.has(end)) {
      await testTransformStream(decoder, [input], MESSAGES.slice(0, end === 7 ? 1 : 2));
    } else {
      await assert.rejects(collect(decoder, [input]), SyntaxError, `stream cut at ${end}`);
      await assert.rejects(collect(decoder, oneByteAtATime(input)), SyntaxError);
    }
  }
  // Ending right after the prefix of a non-empty message is inside the message.
  await assert.rejects(collect(decoder, [new Uint8Array([0, 1])]), SyntaxError);
});

Deno.test("LengthPrefixSplitter emits the complete messages before erroring", async () => {
  const first = message(4, 12);
  const readable = ReadableStream.from([concat(frame(first), new Uint8Array([0, 9, 1]))])
    .pipeThrough(decoder());
  const reader = readable.getReader();
  assert.deepEqual(await reader.read(), { done: false, value: first });
  await assert.rejects(reader.read(), SyntaxError);
});

Deno.test("frame() prefixes the big-endian length and round-trips through the decoder", async () => {
  assert.deepEqual(frame(new Uint8Array(0)), new Uint8Array([0, 0]));
  assert.deepEqual(frame(new Uint8Array([0xab])), new Uint8Array([0, 1, 0xab]));
  for (const length of [0, 1, 255, 256, 300, 4096, 65535]) {
    const original = message(length, length);
    const framed = frame(original);
    assert.equal(framed.length, length + 2);
    assert.equal((framed[0]! << 8) | framed[1]!, length);
    assert.deepEqual(framed.subarray(2), original);
    await testTransformStream(decoder, [framed], [original]);
  }
});

Deno.test("frame() copies from a view at its own offset", () => {
  const backing = new Uint8Array([9, 9, 1, 2, 3, 9]);
  assert.deepEqual(frame(backing.subarray(2, 5)), new Uint8Array([0, 3, 1, 2, 3]));
});

Deno.test("frame() rejects messages longer than 65535 octets with RangeError", () => {
  assert.throws(() => frame(new Uint8Array(65536)), RangeError);
  assert.throws(() => frame(new Uint8Array(100000)), /65535/);
});
