import assert from "node:assert/strict";
import { EDE_CODE, RCODE } from "./constants.ts";
import { readU16 } from "./header.ts";
import { parseMessage } from "./message.ts";
import { buildErrorResponse, udpPayloadLimit } from "./responses.ts";
import {
  decode,
  encode,
  encodeCompressed,
  FLAGS,
  forDnsPacket,
  type Packet,
  type PacketRecord,
} from "./test_packets_test.ts";

const QUESTION = { name: "Host.Example.NET", type: "AAAA" };
const MAX_UDP = 1232;

function clientOpt(flags = 0, ednsVersion = 0, udpPayloadSize = 4096): PacketRecord {
  const cookie = { code: 10, data: new Uint8Array(8).fill(7) };
  return { name: ".", type: "OPT", udpPayloadSize, flags, ednsVersion, options: [cookie] };
}

const QUERY: Packet = {
  id: 0xbeef,
  type: "query",
  flags: FLAGS.RD | FLAGS.CD | FLAGS.AD | FLAGS.AA | FLAGS.TC,
  questions: [QUESTION],
  answers: [{ name: "stray.example", type: "A", ttl: 1, data: "192.0.2.9" }],
};
const QUERY_EDNS: Packet = { ...QUERY, additionals: [clientOpt(FLAGS.DO)] };

/** The client's query bytes, its layout, and the decoded error response. */
function respond(query: Packet, rcode: number, error?: { code: number; text?: string }) {
  const bytes = encode(forDnsPacket(query));
  const layout = parseMessage(bytes);
  const response = buildErrorResponse(bytes, layout, rcode, MAX_UDP, error);
  assert.equal(parseMessage(response).end, response.length, "the response parses");
  return { bytes, layout, response, decoded: decode(response) };
}

Deno.test("buildErrorResponse() without a layout answers FORMERR with the header alone", () => {
  for (const query of [QUERY, QUERY_EDNS]) {
    const bytes = encode(forDnsPacket(query));
    const response = buildErrorResponse(bytes, null, RCODE.FORMERR, MAX_UDP, { code: 0 });
    assert.equal(response.length, 12);
    const decoded = decode(response);
    assert.equal(decoded.id, 0xbeef);
    assert.equal(decoded.rcode, "FORMERR");
    assert.deepEqual([decoded.flag_qr, decoded.flag_ra, decoded.flag_rd, decoded.flag_cd], [
      true,
      true,
      true,
      true,
    ]);
    assert.deepEqual([decoded.flag_aa, decoded.flag_tc, decoded.flag_ad], [false, false, false]);
    assert.deepEqual(
      [decoded.questions, decoded.answers, decoded.authorities, decoded.additionals],
      [[], [], [], []],
    );
  }
  // Also for a query that is nothing but a header with garbage counts.
  const garbage = new Uint8Array([1, 2, 0x79, 0xff, 0, 9, 0, 9, 0, 9, 0, 9]);
  const response = buildErrorResponse(garbage, null, RCODE.FORMERR, MAX_UDP);
  assert.deepEqual([...response], [1, 2, 0xf9, 0x91, 0, 0, 0, 0, 0, 0, 0, 0]);
});

Deno.test("buildErrorResponse() echoes the ID, question, RD and CD and sets QR and RA", () => {
  const { bytes, layout, response, decoded } = respond(QUERY, RCODE.SERVFAIL);
  assert.equal(decoded.id, 0xbeef);
  assert.equal(decoded.rcode, "SERVFAIL");
  assert.equal(decoded.opcode, "QUERY");
  assert.deepEqual(decoded.questions, [{ ...QUESTION, class: "IN" }]);
  assert.deepEqual(response.subarray(12), bytes.subarray(12, layout.questionEnd));
  assert.deepEqual(
    [decoded.flag_qr, decoded.flag_ra, decoded.flag_rd, decoded.flag_cd],
    [true, true, true, true],
  );
  assert.deepEqual([decoded.flag_aa, decoded.flag_tc, decoded.flag_ad], [false, false, false]);
  assert.deepEqual([decoded.answers, decoded.authorities, decoded.additionals], [[], [], []]);
  const withoutRd = respond({ ...QUERY, flags: 0 }, RCODE.SERVFAIL).decoded;
  assert.deepEqual([withoutRd.flag_rd, withoutRd.flag_cd, withoutRd.flag_ra], [false, false, true]);
});

Deno.test("buildErrorResponse() echoes the opcode", () => {
  const bytes = encode(forDnsPacket(QUERY));
  bytes[2] = (bytes[2]! & 0x87) | (5 << 3); // UPDATE
  const response = buildErrorResponse(bytes, parseMessage(bytes), RCODE.NOTIMP, MAX_UDP);
  const decoded = decode(response);
  assert.deepEqual([decoded.opcode, decoded.rcode], ["UPDATE", "NOTIMP"]);
});

Deno.test("buildErrorResponse() adds an OPT record only when the client sent one", () => {
  assert.deepEqual(respond(QUERY, RCODE.SERVFAIL).decoded.additionals, []);
  assert.deepEqual(respond(QUERY, RCODE.SERVFAIL, { code: 23, text: "x" }).decoded.additionals, []);
  for (const flags of [0, FLAGS.DO]) {
    const { decoded } = respond({ ...QUERY, additionals: [clientOpt(flags)] }, RCODE.REFUSED);
    assert.equal(decoded.rcode, "REFUSED");
    assert.equal(decoded.additionals.length, 1);
    const opt = decoded.additionals[0]!;
    assert.equal(opt.type, "OPT");
    assert.equal(opt.udpPayloadSize, MAX_UDP);
    assert.equal(opt.flag_do, flags !== 0);
    assert.deepEqual([opt.ednsVersion, opt.extendedRcode], [0, 0]);
    assert.deepEqual(opt.options, [], "the client's cookie is not echoed");
  }
});

Deno.test("buildErrorResponse() adds an Extended DNS Error when the client has EDNS", () => {
  const text = "upstream unreachable: 1.1.1.1:853 ✗";
  const { decoded } = respond(QUERY_EDNS, RCODE.SERVFAIL, { code: EDE_CODE.NETWORK_ERROR, text });
  const options = decoded.additionals[0]!.options!;
  assert.equal(options.length, 1);
  assert.equal(options[0]!.code, 15);
  const data = options[0]!.data;
  assert.equal(readU16(data, 0), 23);
  assert.equal(new TextDecoder().decode(data.subarray(2)), text);
  // Without text the option holds the INFO-CODE alone.
  const bare = respond(QUERY_EDNS, RCODE.SERVFAIL, { code: EDE_CODE.NOT_READY }).decoded;
  assert.deepEqual([...bare.additionals[0]!.options![0]!.data], [0, 14]);
  const empty = respond(QUERY_EDNS, RCODE.SERVFAIL, { code: 3, text: "" }).decoded;
  assert.deepEqual([...empty.additionals[0]!.options![0]!.data], [0, 3]);
});

Deno.test("buildErrorResponse() writes BADVERS as header RCODE 0 and extended RCODE 1", () => {
  const query = { ...QUERY, additionals: [clientOpt(FLAGS.DO, 1)] };
  const { response, decoded } = respond(query, RCODE.BADVERS, { code: 0, text: "version" });
  // dns-packet reads only the header's four bits; the upper eight are in the OPT TTL.
  assert.equal(decoded.rcode, "NOERROR");
  const opt = decoded.additionals[0]!;
  assert.equal(opt.extendedRcode, 1);
  assert.equal((opt.extendedRcode! << 4) | (response[3]! & 0x0f), RCODE.BADVERS);
  assert.equal(opt.ednsVersion, 0, "the answer uses the version the proxy speaks");
  assert.equal(opt.flag_do, true);
  const layout = parseMessage(response);
  assert.equal(layout.edns?.extendedRcode, 1);
  assert.equal(layout.edns?.version, 0);
  assert.equal(response[3]! & 0x0f, 0);
});

Deno.test("udpPayloadLimit() is 512 without EDNS, else the client's size within 512..max", () => {
  assert.equal(udpPayloadLimit(null, MAX_UDP), 512);
  const limit = (additionals: PacketRecord[], max: number) => {
    // The compressing encoder writes a size of 0 as is; dns-packet would write 4096.
    const bytes = encodeCompressed({ ...QUERY, answers: [], additionals });
    return udpPayloadLimit(parseMessage(bytes), max);
  };
  assert.equal(limit([], MAX_UDP), 512);
  assert.equal(limit([clientOpt(0, 0, 100)], MAX_UDP), 512);
  assert.equal(limit([clientOpt(0, 0, 0)], MAX_UDP), 512);
  assert.equal(limit([clientOpt(0, 0, 512)], MAX_UDP), 512);
  assert.equal(limit([clientOpt(0, 0, 1000)], MAX_UDP), 1000);
  assert.equal(limit([clientOpt(0, 0, 4096)], MAX_UDP), MAX_UDP);
  assert.equal(limit([clientOpt(0, 0, 1400)], 1232), 1232);
  assert.equal(limit([clientOpt(0, 0, 65535)], 4096), 4096);
  assert.equal(limit([clientOpt(0, 0, 1232)], 1232), 1232);
});

Deno.test("buildErrorResponse() output is all its own: the query buffer is not modified", () => {
  const bytes = encode(forDnsPacket(QUERY_EDNS));
  const copy = bytes.slice();
  const response = buildErrorResponse(bytes, parseMessage(bytes), RCODE.SERVFAIL, MAX_UDP, {
    code: 0,
    text: "t",
  });
  assert.deepEqual(bytes, copy);
  assert.notEqual(response.buffer, bytes.buffer);
});
