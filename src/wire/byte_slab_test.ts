import assert from "node:assert/strict";
import { allocateBytes, copyBytes, MAX_SLAB_ALLOCATION, SLAB_SIZE } from "./byte_slab.ts";

Deno.test("allocateBytes() hands out zero-filled buffers that never overlap, across slabs", () => {
  // More than three slabs' worth, with sizes that do not divide the slab size.
  const buffers: Uint8Array[] = [];
  for (let i = 0; buffers.length * 130 < 3 * SLAB_SIZE + 1000; i++) {
    const bytes = allocateBytes(130);
    assert.equal(bytes.length, 130);
    assert.ok(bytes.every((octet) => octet === 0), `buffer ${i} is not zero-filled`);
    bytes.fill((i % 255) + 1);
    buffers.push(bytes);
  }
  buffers.forEach((bytes, i) => {
    assert.ok(bytes.every((octet) => octet === (i % 255) + 1), `buffer ${i} was overwritten`);
  });
  const slabs = new Set(buffers.map((bytes) => bytes.buffer));
  assert.ok(slabs.size >= 4 && slabs.size <= 5, `${slabs.size} slabs`);
  for (const slab of slabs) assert.equal(slab.byteLength, SLAB_SIZE);
});

Deno.test("allocateBytes() gives a long buffer a backing store of its own", () => {
  const short = allocateBytes(MAX_SLAB_ALLOCATION);
  assert.equal(short.buffer.byteLength, SLAB_SIZE);
  const long = allocateBytes(MAX_SLAB_ALLOCATION + 1);
  assert.equal(long.byteOffset, 0);
  assert.equal(long.buffer.byteLength, MAX_SLAB_ALLOCATION + 1);
});

Deno.test("copyBytes() copies the bytes, not a view of them", () => {
  const original = new Uint8Array([1, 2, 3, 4]);
  const copy = copyBytes(original.subarray(1, 3));
  original.fill(0);
  assert.deepEqual(copy, new Uint8Array([2, 3]));
  assert.deepEqual(copyBytes(new Uint8Array(0)), new Uint8Array(0));
});
