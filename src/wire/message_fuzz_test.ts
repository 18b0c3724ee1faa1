import assert from "node:assert/strict";
import { DnsFormatError } from "./dns_format_error.ts";
import { readU32, writeU16 } from "./header.ts";
import { type MessageLayout, parseMessage, walkRecords } from "./message.ts";
import { namesEqual, nameToString, writeCanonicalName } from "./name.ts";
import { answerFromReply, buildClientResponse, buildErrorResponse } from "./responses.ts";
import { buildUpstreamFrame } from "./upstream_query.ts";
import {
  assertLayoutMatches,
  decode,
  encode,
  encodeCompressed,
  forDnsPacket,
  Prng,
  randomPacket,
} from "./test_packets_test.ts";

/** 250 random packets, each encoded by dns-packet and by the compressing encoder. */
function randomMessages(seed: number): Uint8Array[] {
  const prng = new Prng(seed);
  return Array.from({ length: 250 }, () => randomPacket(prng)).flatMap((packet) => [
    encode(forDnsPacket(packet)),
    encodeCompressed(packet),
  ]);
}

Deno.test("parseMessage() reads 500 random messages encoded by dns-packet", () => {
  let withOpt = 0;
  let records = 0;
  for (const bytes of randomMessages(2024)) {
    const layout = parseMessage(bytes);
    assert.equal(layout.end, bytes.length);
    assertLayoutMatches(bytes, layout);
    if (layout.edns) withOpt++;
    const decoded = decode(bytes);
    if (layout.questionCount === 1) {
      const name = decoded.questions[0]!.name;
      assert.equal(nameToString(bytes, 12), name === "." ? "." : `${name}.`);
    }
    // walkRecords sees every record, and the TTLs it points at are dns-packet's.
    const ttls: number[] = [];
    walkRecords(bytes, layout.questionEnd, (record) => {
      if (record.type !== 41) ttls.push(readU32(bytes, record.ttlOffset));
    });
    const expected = [...decoded.answers, ...decoded.authorities, ...decoded.additionals]
      .filter((r) => r.type !== "OPT").map((r) => r.ttl);
    assert.deepEqual(ttls, expected);
    records += ttls.length;
  }
  assert.ok(withOpt > 100 && records > 2000, `too little variety: ${withOpt} OPT, ${records} RRs`);
});

/** Applies one random mutation. */
function mutate(prng: Prng, bytes: Uint8Array): Uint8Array {
  const at = prng.int(0, Math.max(0, bytes.length - 1));
  switch (prng.int(0, 6)) {
    case 0: { // flip a bit
      const copy = bytes.slice();
      if (copy.length > 0) copy[at] = copy[at]! ^ (1 << prng.int(0, 7));
      return copy;
    }
    case 1: { // overwrite an octet
      const copy = bytes.slice();
      if (copy.length > 0) copy[at] = prng.int(0, 255);
      return copy;
    }
    case 2: // truncate
      return bytes.slice(0, prng.int(0, bytes.length));
    case 3: // delete an octet
      return new Uint8Array([...bytes.subarray(0, at), ...bytes.subarray(at + 1)]);
    case 4: // insert an octet
      return new Uint8Array([...bytes.subarray(0, at), prng.int(0, 255), ...bytes.subarray(at)]);
    case 5: { // write a compression pointer somewhere
      const copy = bytes.slice();
      if (copy.length > 1) {
        const target = prng.int(0, bytes.length + 2);
        copy[Math.min(at, copy.length - 2)] = 0xc0 | (target >> 8);
        copy[Math.min(at, copy.length - 2) + 1] = target & 0xff;
      }
      return copy;
    }
    default: { // change a section count
      const copy = bytes.slice();
      if (copy.length >= 12) writeU16(copy, prng.pick([4, 6, 8, 10]), prng.int(0, 3));
      return copy;
    }
  }
}

/** Uses a message parseMessage accepted the way the proxy would; nothing here may throw. */
function exercise(bytes: Uint8Array, layout: MessageLayout): void {
  assert.ok(layout.questionEnd <= layout.end && layout.end <= bytes.length);
  walkRecords(bytes, layout.questionEnd, (record) => {
    assert.ok(record.start < record.end && record.end <= layout.end);
  });
  const error = buildErrorResponse(bytes, layout, 2, 1232, { code: 23, text: "x" });
  assert.equal(parseMessage(error).end, error.length);
  if (layout.questionCount !== 1) return;
  nameToString(bytes, 12);
  assert.ok(namesEqual(bytes, 12, bytes, 12));
  const canonical = new Uint8Array(255);
  const nameLength = writeCanonicalName(bytes, 12, canonical, 0);
  assert.equal(nameLength, layout.questionEnd - 16);
  const upstream = buildUpstreamFrame(bytes, layout).subarray(2);
  assert.equal(upstream.length % 128, 0);
  assert.equal(parseMessage(upstream).questionEnd, layout.questionEnd);
  for (const limit of [512, 65535]) {
    const answer = answerFromReply(bytes.slice(), layout);
    const response = buildClientResponse(answer, bytes, layout, { limit, maxUdpSize: 1232 });
    assert.ok(response.length <= limit);
    const responseLayout = parseMessage(response);
    assert.equal(responseLayout.end, response.length);
    assert.equal(responseLayout.edns !== null, layout.edns !== null);
  }
}

Deno.test("parseMessage() throws only DnsFormatError on 20000 mutated messages", () => {
  const prng = new Prng(0xd0775);
  const pool = randomMessages(7);
  let accepted = 0;
  let rejected = 0;
  for (let i = 0; i < 20000; i++) {
    let bytes = prng.pick(pool);
    for (let n = prng.int(1, 3); n > 0; n--) bytes = mutate(prng, bytes);
    let layout: MessageLayout;
    try {
      layout = parseMessage(bytes);
    } catch (error) {
      if (!(error instanceof DnsFormatError)) {
        assert.fail(`iteration ${i}: ${error} on ${bytes.join(",")}`);
      }
      assert.ok(error.offset >= 0 && error.offset <= bytes.length + 65535);
      rejected++;
      continue;
    }
    accepted++;
    exercise(bytes, layout);
  }
  assert.ok(accepted > 2000 && rejected > 2000, `${accepted} accepted, ${rejected} rejected`);
});

Deno.test("parseMessage() survives random bytes", () => {
  const prng = new Prng(99);
  for (let i = 0; i < 5000; i++) {
    const bytes = Uint8Array.from({ length: prng.int(0, 80) }, () => prng.int(0, 255));
    if (bytes.length >= 12) bytes[4] = 0; // mostly one question at most, to get further
    try {
      exercise(bytes, parseMessage(bytes));
    } catch (error) {
      assert.ok(error instanceof DnsFormatError, `${error} on ${bytes.join(",")}`);
    }
  }
});
