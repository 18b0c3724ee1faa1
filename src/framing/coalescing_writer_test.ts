import assert from "node:assert/strict";
import { CoalescingWriter, StalledWriteError } from "./coalescing_writer.ts";

/** A sink that records each write; `gate` holds writes back until opened. */
function recordingSink() {
  const writes: Uint8Array[] = [];
  let open: () => void = () => {};
  let gate: Promise<void> | null = null;
  const stream = new WritableStream<Uint8Array>({
    async write(chunk) {
      if (gate !== null) await gate;
      writes.push(chunk.slice());
    },
  });
  return {
    writes,
    writer: stream.getWriter(),
    hold() {
      gate = new Promise((resolve) => open = resolve);
    },
    release() {
      gate = null;
      open();
    },
  };
}

const frameOf = (length: number, fill: number) =>
  Uint8Array.from({ length: length + 2 }, (_, i) => i < 2 ? (length >> (8 - 8 * i)) & 0xff : fill);

Deno.test("CoalescingWriter joins frames queued in one turn into one write", async () => {
  const sink = recordingSink();
  const settled: number[] = [];
  const writer = new CoalescingWriter(sink.writer, () => assert.fail("no error expected"), {
    onSettled: (n) => settled.push(n),
  });
  writer.send(frameOf(3, 1));
  writer.send(frameOf(2, 2));
  writer.send(frameOf(1, 3), false); // not counted
  await writer.drained();
  assert.equal(sink.writes.length, 1);
  assert.deepEqual([...sink.writes[0]!], [0, 3, 1, 1, 1, 0, 2, 2, 2, 0, 1, 3]);
  assert.deepEqual(settled, [2]);
});

Deno.test("CoalescingWriter keeps each write within 64 KiB, in order", async () => {
  const sink = recordingSink();
  const writer = new CoalescingWriter(sink.writer, () => assert.fail("no error expected"));
  const frames = Array.from({ length: 10 }, (_, i) => frameOf(20_000, i));
  for (const frame of frames) writer.send(frame);
  const big = frameOf(0xffff, 99); // over 64 KiB by itself: written alone
  writer.send(big);
  await writer.drained();
  assert.ok(sink.writes.length >= 4);
  assert.ok(sink.writes.every((write) => write.length <= 64 * 1024 || write.length === big.length));
  const joined = sink.writes.flatMap((write) => [...write]);
  const expected = [...frames, big].flatMap((frame) => [...frame]);
  assert.deepEqual(joined, expected);
});

Deno.test("CoalescingWriter fails a write the peer does not take in time, and settles what it drops", async () => {
  const sink = recordingSink();
  sink.hold();
  const settled: number[] = [];
  let failure: unknown;
  const writer = new CoalescingWriter(sink.writer, (error) => failure = error, {
    stallTimeoutMs: 50,
    onSettled: (n) => settled.push(n),
  });
  writer.send(frameOf(1, 1));
  writer.send(frameOf(1, 2));
  await new Promise((resolve) => setTimeout(resolve, 10));
  writer.send(frameOf(1, 3)); // queued behind the stalled write
  await writer.drained();
  assert.ok(failure instanceof StalledWriteError);
  assert.deepEqual(settled, [3], "the stalled write's two frames and the queued one");
  writer.send(frameOf(1, 4)); // ignored once stopped
  sink.release();
  await writer.drained();
  assert.deepEqual(settled, [3]);
});

Deno.test("CoalescingWriter reports the uncounted frames it settles apart", async () => {
  const sink = recordingSink();
  const settled: [number, number][] = [];
  const writer = new CoalescingWriter(sink.writer, () => assert.fail("no error expected"), {
    onSettled: (counted, uncounted) => settled.push([counted, uncounted]),
  });
  writer.send(frameOf(1, 1));
  writer.send(frameOf(1, 2), false);
  writer.send(frameOf(1, 3), false);
  await writer.drained();
  assert.deepEqual(settled, [[1, 2]]);
});

Deno.test("CoalescingWriter's stall deadline runs from when a frame was queued, not from its write", async () => {
  // Each write is taken after 3/4 of the stall timeout: every write on its
  // own is in time, but the second frame has waited 3/4 of it behind the
  // first before its own write starts, so it is not written in time.
  const stallTimeoutMs = 400;
  const writes: number[] = [];
  const stream = new WritableStream<Uint8Array>({
    async write(chunk) {
      await new Promise((resolve) => setTimeout(resolve, stallTimeoutMs * 3 / 4));
      writes.push(chunk.length);
    },
  });
  let failure: unknown;
  const settled: number[] = [];
  const writer = new CoalescingWriter(stream.getWriter(), (error) => failure = error, {
    stallTimeoutMs,
    onSettled: (counted) => settled.push(counted),
  });
  for (let i = 0; i < 4; i++) writer.send(frameOf(40_000, i)); // one frame per write
  await writer.drained();
  assert.ok(failure instanceof StalledWriteError, "the queued frames waited too long");
  assert.deepEqual(settled, [1, 3], "the first written, the rest dropped");
  await new Promise((resolve) => setTimeout(resolve, stallTimeoutMs)); // the abandoned write ends
});
