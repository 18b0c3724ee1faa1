import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { readU16 } from "./header.ts";
import { parseMessage } from "./message.ts";
import {
  buildUpstreamFrame,
  PADDING_BLOCK,
  setFrameId,
  UPSTREAM_UDP_SIZE,
} from "./upstream_query.ts";
import {
  decode,
  encode,
  FLAGS,
  forDnsPacket,
  nameWithWireLength,
  type Packet,
  type PacketRecord,
  wireName,
} from "./test_packets_test.ts";

const QUESTION = { name: "WwW.Example.ORG", type: "MX" };

function clientOpt(flags: number, options: PacketRecord["options"] = []): PacketRecord {
  return { name: ".", type: "OPT", udpPayloadSize: 4096, flags, options };
}

/** Builds the upstream frame for a client query, checks the prefix, returns the message. */
function upstreamFor(query: Packet): Uint8Array {
  const bytes = encode(forDnsPacket(query));
  const frame = buildUpstreamFrame(bytes, parseMessage(bytes));
  assert.equal(readU16(frame, 0), frame.length - 2, "the prefix is the message length");
  return frame.subarray(2);
}

Deno.test("buildUpstreamFrame() copies RD, AD and CD and clears every other flag", () => {
  const others = FLAGS.AA | FLAGS.TC | FLAGS.RA | 0x40 | 0x0f; // AA TC RA Z RCODE
  for (const rd of [0, FLAGS.RD]) {
    for (const ad of [0, FLAGS.AD]) {
      for (const cd of [0, FLAGS.CD]) {
        for (const noise of [0, others]) {
          const message = upstreamFor({
            id: 0xabcd,
            flags: rd | ad | cd | noise,
            questions: [QUESTION],
          });
          const decoded = decode(message);
          assert.equal(decoded.id, 0);
          assert.equal(decoded.type, "query");
          assert.deepEqual(
            [decoded.flag_rd, decoded.flag_ad, decoded.flag_cd],
            [rd !== 0, ad !== 0, cd !== 0],
          );
          assert.deepEqual(
            [decoded.flag_aa, decoded.flag_tc, decoded.flag_ra, decoded.flag_z, decoded.rcode],
            [false, false, false, false, "NOERROR"],
          );
          assert.equal(decoded.opcode, "QUERY");
        }
      }
    }
  }
});

Deno.test("buildUpstreamFrame() keeps the question byte for byte", () => {
  const query = encode({ id: 1, flags: FLAGS.RD, questions: [QUESTION] });
  const message = upstreamFor({ id: 1, flags: FLAGS.RD, questions: [QUESTION] });
  assert.deepEqual(decode(message).questions, [{ ...QUESTION, class: "IN" }]);
  assert.deepEqual(message.subarray(12, query.length), query.subarray(12));
  const layout = parseMessage(message);
  assert.equal(layout.questionEnd, query.length);
  assert.equal(layout.qtype, 15);
  assert.equal(layout.end, message.length);
});

Deno.test("buildUpstreamFrame() adds exactly one OPT record, with padding", () => {
  const query: Packet = {
    id: 2,
    questions: [QUESTION],
    answers: [{ name: "x", type: "A", ttl: 1, data: "192.0.2.1" }],
    authorities: [{ name: "x", type: "NS", ttl: 1, data: "ns.x" }],
    additionals: [{ name: "y", type: "A", ttl: 1, data: "192.0.2.2" }, clientOpt(0)],
  };
  const decoded = decode(upstreamFor(query));
  assert.deepEqual([decoded.answers, decoded.authorities], [[], []]);
  assert.equal(decoded.additionals.length, 1);
  const opt = decoded.additionals[0]!;
  assert.equal(opt.type, "OPT");
  assert.equal(opt.name, ".");
  assert.equal(opt.udpPayloadSize, UPSTREAM_UDP_SIZE);
  assert.deepEqual([opt.ednsVersion, opt.extendedRcode], [0, 0]);
  assert.equal(opt.options!.length, 1);
  assert.equal(opt.options![0]!.code, 12);
  assert.ok(opt.options![0]!.data.every((byte) => byte === 0), "padding octets are zero");
});

Deno.test("buildUpstreamFrame() copies the DO bit from the client's OPT", () => {
  const cases: [PacketRecord[], boolean][] = [[[], false], [[clientOpt(0)], false], [
    [clientOpt(FLAGS.DO)],
    true,
  ]];
  for (const [additionals, dnssecOk] of cases) {
    const message = upstreamFor({ id: 3, questions: [QUESTION], additionals });
    assert.equal(decode(message).additionals[0]!.flag_do, dnssecOk);
    assert.equal(parseMessage(message).edns?.dnssecOk, dnssecOk);
  }
});

Deno.test("buildUpstreamFrame() does not forward the client's ECS or cookie options", () => {
  const ecs = [0, 1, 24, 0, 198, 51, 100]; // family 1, /24, 198.51.100.0
  const cookie = [1, 2, 3, 4, 5, 6, 7, 8];
  const options = [
    { code: 8, data: new Uint8Array(ecs) },
    { code: 10, data: new Uint8Array(cookie) },
    { code: 11, data: new Uint8Array(0) },
  ];
  const message = upstreamFor({
    id: 4,
    questions: [QUESTION],
    additionals: [clientOpt(FLAGS.DO, options)],
  });
  const opt = decode(message).additionals[0]!;
  assert.deepEqual(opt.options!.map((o) => o.code), [12]);
  const haystack = Buffer.from(message);
  assert.equal(haystack.indexOf(Buffer.from(cookie)), -1, "cookie octets absent");
  assert.equal(haystack.indexOf(Buffer.from(ecs.slice(4))), -1, "subnet octets absent");
});

Deno.test("buildUpstreamFrame() pads to a multiple of 128 octets for every name length", () => {
  const lengths = new Set<number>();
  for (let octets = 1; octets <= 255; octets += octets === 1 ? 2 : 1) {
    const name = nameWithWireLength(octets);
    assert.equal(wireName(name).length, octets);
    const message = upstreamFor({ id: 5, questions: [{ name, type: "A" }] });
    assert.equal(message.length % PADDING_BLOCK, 0, `name of ${octets} octets`);
    const unpadded = 12 + octets + 4 + 11 + 4;
    assert.equal(message.length, Math.ceil(unpadded / PADDING_BLOCK) * PADDING_BLOCK);
    assert.equal(decode(message).questions[0]!.name, name);
    const padding = decode(message).additionals[0]!.options![0]!;
    assert.equal(padding.data.length, message.length - unpadded);
    lengths.add(message.length);
  }
  assert.deepEqual([...lengths], [128, 256, 384]);
});

Deno.test("setFrameId() writes the ID after the length prefix", () => {
  const query = encode({ id: 6, questions: [QUESTION] });
  const frame = buildUpstreamFrame(query, parseMessage(query));
  const before = frame.slice();
  for (const id of [0, 1, 0x8000, 0xffff, 0x1234]) {
    setFrameId(frame, id);
    assert.equal(readU16(frame, 0), before.length - 2, "prefix untouched");
    assert.equal(decode(frame.subarray(2)).id, id);
    assert.deepEqual(frame.subarray(4), before.subarray(4), "rest untouched");
  }
});
