import assert from "node:assert/strict";
import {
  decode,
  encode,
  encodeCompressed,
  forDnsPacket,
  header,
  Prng,
  randomPacket,
  wireName,
} from "./test_packets_test.ts";

Deno.test("encodeCompressed() output decodes with dns-packet to the same message", () => {
  const prng = new Prng(1);
  let compressedSomething = false;
  for (let i = 0; i < 300; i++) {
    const packet = randomPacket(prng);
    const plain = encode(forDnsPacket(packet));
    const compressed = encodeCompressed(packet);
    if (compressed.length < plain.length) compressedSomething = true;
    const a = decode(plain);
    const b = decode(compressed);
    assert.deepEqual(b, a);
  }
  assert.ok(compressedSomething);
});

Deno.test("header() and wireName() write what dns-packet reads", () => {
  const bytes = new Uint8Array([...header(0x1234, 0x8180, 1, 2, 3, 0x104), ...wireName("a.Bc.")]);
  assert.deepEqual([...bytes.subarray(4, 12)], [0, 1, 0, 2, 0, 3, 1, 4]);
  assert.deepEqual(wireName("."), [0]);
  assert.deepEqual(wireName("a.Bc."), [1, 97, 2, 66, 99, 0]);
  assert.equal(decode(new Uint8Array([...header(0x1234, 0x8180, 0, 0, 0, 0)])).id, 0x1234);
});
