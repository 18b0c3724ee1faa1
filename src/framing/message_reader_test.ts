import assert from "node:assert/strict";
import { frame } from "./length_prefix_decoder.ts";
import { readMessages } from "./message_reader.ts";
import { concat } from "../../tests/_util/stream_harness.ts";

/** A byte stream (BYOB-capable, as `conn.readable` is) that delivers `chunks` one per pull. */
function byteStream(chunks: readonly Uint8Array[]): ReadableStream<Uint8Array> {
  let next = 0;
  return new ReadableStream({
    type: "bytes",
    pull(controller) {
      const chunk = chunks[next++];
      if (chunk === undefined) {
        // As Deno's own sockets do: a pending BYOB read completes empty.
        controller.close();
        return controller.byobRequest?.respond(0);
      }
      controller.enqueue(chunk.slice());
    },
  });
}

function message(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 13 + seed * 29 + 3) & 0xff);
}

const MESSAGES = [message(12, 1), message(0, 2), message(300, 3), message(40, 4)];
const STREAM = concat(...MESSAGES.map(frame));

async function readAll(chunks: readonly Uint8Array[]): Promise<Uint8Array[]> {
  const messages: Uint8Array[] = [];
  await readMessages(byteStream(chunks), (m) => void messages.push(m));
  return messages;
}

Deno.test("readMessages returns every message for every single split point", async () => {
  for (let at = 1; at < STREAM.length; at++) {
    const messages = await readAll([STREAM.subarray(0, at), STREAM.subarray(at)]);
    assert.deepEqual(messages, MESSAGES, `split at ${at}`);
  }
});

Deno.test("readMessages returns every message when fed one octet at a time", async () => {
  const chunks = Array.from(STREAM, (octet) => new Uint8Array([octet]));
  assert.deepEqual(await readAll(chunks), MESSAGES);
});

Deno.test("readMessages hands over copies that later reads and messages do not overwrite", async () => {
  // Many small messages over many reads: the reader reuses one buffer, so a
  // message that still pointed into it would change under the test's feet.
  const many = Array.from({ length: 200 }, (_, i) => message(10 + (i % 7), i));
  const framed = concat(...many.map(frame));
  const chunks = [];
  for (let at = 0; at < framed.length; at += 50) chunks.push(framed.subarray(at, at + 50));
  const messages = await readAll(chunks);
  assert.deepEqual(messages, many);
  // Copies may share a slab, but never a byte.
  const spans = messages.map((m) => ({
    buffer: m.buffer,
    start: m.byteOffset,
    end: m.byteOffset + m.length,
  }))
    .sort((x, y) => x.start - y.start);
  for (let i = 1; i < spans.length; i++) {
    const overlapping = spans.slice(0, i).some((span) =>
      span.buffer === spans[i]!.buffer && span.end > spans[i]!.start
    );
    assert.ok(!overlapping, `message at ${spans[i]!.start} overlaps another`);
  }
});

Deno.test("readMessages stops reading and releases the stream when the callback returns false", async () => {
  let cancelled = false;
  const source = new ReadableStream({
    type: "bytes",
    pull(controller) {
      controller.enqueue(STREAM.slice());
    },
    cancel() {
      cancelled = true;
    },
  });
  const seen: Uint8Array[] = [];
  await readMessages(source, (m) => {
    seen.push(m);
    return seen.length < 2;
  });
  assert.deepEqual(seen, MESSAGES.slice(0, 2));
  assert.ok(!cancelled);
  assert.ok(!source.locked);
  await source.cancel();
  assert.ok(cancelled);
});

Deno.test("readMessages rejects with SyntaxError when the stream ends inside a message", async () => {
  for (const end of [1, 5, STREAM.length - 1]) {
    await assert.rejects(readAll([STREAM.subarray(0, end)]), SyntaxError, `end at ${end}`);
  }
});

Deno.test("readMessages passes on the stream's own error", async () => {
  const failing = new ReadableStream({
    type: "bytes",
    pull(controller) {
      controller.error(new Deno.errors.ConnectionReset("reset by peer"));
    },
  });
  await assert.rejects(readMessages(failing, () => {}), Deno.errors.ConnectionReset);
});

Deno.test("readMessages waits for beforeRead's promise before each read", async () => {
  const first = frame(message(3, 7));
  const second = frame(message(4, 8));
  let pulls = 0;
  const source = new ReadableStream({
    type: "bytes",
    pull(controller) {
      pulls++;
      const chunk = [first, second][pulls - 1];
      if (chunk === undefined) {
        controller.close();
        return controller.byobRequest?.respond(0);
      }
      controller.enqueue(chunk.slice());
    },
  });
  let open!: () => void;
  const gate = new Promise<void>((resolve) => open = resolve);
  const seen: Uint8Array[] = [];
  const reading = readMessages(source, (m) => void seen.push(m), {
    beforeRead: () => seen.length === 1 ? gate : undefined,
  });
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(seen.length, 1, "the second read waits for the gate");
  open();
  await reading;
  assert.deepEqual(seen, [message(3, 7), message(4, 8)]);
});
