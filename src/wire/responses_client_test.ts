import assert from "node:assert/strict";
import { COUNT_OFFSET, readU16 } from "./header.ts";
import { parseMessage } from "./message.ts";
import { answerFromReply, type AnswerSecurity, buildClientResponse } from "./responses.ts";
import {
  ascii,
  decode,
  encode,
  encodeCompressed,
  FLAGS,
  forDnsPacket,
  type Packet,
  type PacketOption,
  type PacketRecord,
} from "./test_packets_test.ts";

const MAX_UDP = 1232;
const CLIENT_ID = 0x4321;
const CLIENT_QUESTION = { name: "WwW.ExAmPlE.CoM", type: "A" };

const PADDING: PacketOption = { code: 12, data: new Uint8Array(20) };
const EDE: PacketOption = { code: 15, data: new Uint8Array([0, 3, ...ascii("stale")]) };
const COOKIE: PacketOption = { code: 10, data: new Uint8Array(16).fill(0x5a) };

function opt(flags: number, options: PacketOption[], extendedRcode = 0): PacketRecord {
  return { name: ".", type: "OPT", udpPayloadSize: 4096, flags, extendedRcode, options };
}

const GLUE = [1, 2, 3].map((i): PacketRecord => ({
  name: `ns${i}.example.com`,
  type: "A",
  ttl: 3600,
  data: `192.0.2.${i}`,
}));

const REPLY: Packet = {
  id: 0x0077,
  type: "response",
  flags: FLAGS.RD | FLAGS.RA | FLAGS.AD,
  questions: [{ name: "www.example.com", type: "A" }],
  answers: [
    { name: "www.example.com", type: "CNAME", ttl: 60, data: "cdn.example.com" },
    { name: "cdn.example.com", type: "A", ttl: 20, data: "198.51.100.1" },
    { name: "cdn.example.com", type: "A", ttl: 20, data: "198.51.100.2" },
  ],
  authorities: [{ name: "example.com", type: "NS", ttl: 86400, data: "ns1.example.com" }],
  additionals: [GLUE[0]!, opt(FLAGS.DO, [PADDING, EDE, COOKIE])],
};

function clientQuery(additionals: PacketRecord[] = []): Uint8Array {
  return encode(
    forDnsPacket({ id: CLIENT_ID, flags: FLAGS.RD, questions: [CLIENT_QUESTION], additionals }),
  );
}

const CLIENT_EDNS = clientQuery([opt(FLAGS.DO, [COOKIE])]);
const CLIENT_EDNS_NO_DO = clientQuery([opt(0, [])]);
const CLIENT_PLAIN = clientQuery();

/** Runs buildClientResponse and checks the result parses to its end. */
function respond(reply: Packet | Uint8Array, query: Uint8Array, limit = 65535) {
  const replyBytes = reply instanceof Uint8Array ? reply : encodeCompressed(reply);
  const [replyCopy, queryCopy] = [replyBytes.slice(), query.slice()];
  const answer = answerFromReply(replyBytes.slice(), parseMessage(replyBytes));
  const response = buildClientResponse(answer, query, parseMessage(query), {
    limit,
    maxUdpSize: MAX_UDP,
  });
  assert.deepEqual([replyBytes, query], [replyCopy, queryCopy], "inputs are not modified");
  const layout = parseMessage(response);
  assert.equal(layout.end, response.length);
  return { replyBytes, response, layout, decoded: decode(response) };
}

/** Records with names (owner and in RDATA) in lower case. */
const lower = (records: PacketRecord[]) =>
  records.map((r) => ({
    ...r,
    name: r.name.toLowerCase(),
    data: typeof r.data === "string" ? r.data.toLowerCase() : r.data,
  }));

Deno.test("buildClientResponse() restores the client's ID and question bytes", () => {
  for (const query of [CLIENT_EDNS, CLIENT_PLAIN]) {
    const { response, decoded } = respond(REPLY, query);
    assert.equal(decoded.id, CLIENT_ID);
    assert.deepEqual(decoded.questions, [{ ...CLIENT_QUESTION, class: "IN" }]);
    const questionEnd = parseMessage(query).questionEnd;
    assert.deepEqual(response.subarray(12, questionEnd), query.subarray(12, questionEnd));
    assert.deepEqual([decoded.flag_qr, decoded.flag_ra, decoded.flag_ad], [true, true, true]);
    assert.equal(decoded.flag_tc, false);
  }
});

Deno.test("buildClientResponse() keeps the records untouched, compression pointers included", () => {
  const { replyBytes, response, decoded } = respond(REPLY, CLIENT_EDNS);
  const upstream = decode(replyBytes);
  const recordsEnd = parseMessage(replyBytes).edns!.start;
  const questionEnd = parseMessage(replyBytes).questionEnd;
  assert.deepEqual(
    response.subarray(questionEnd, recordsEnd),
    replyBytes.subarray(questionEnd, recordsEnd),
  );
  // Names compressed against the question now read the client's spelling.
  assert.equal(decoded.answers[0]!.name, CLIENT_QUESTION.name);
  assert.deepEqual(lower(decoded.answers), lower(upstream.answers));
  assert.equal(decoded.answers[1]!.name, "cdn.ExAmPlE.CoM");
  assert.deepEqual(lower(decoded.authorities), lower(upstream.authorities));
  assert.deepEqual(lower(decoded.additionals.slice(0, 1)), lower(upstream.additionals.slice(0, 1)));
  const counts = [COUNT_OFFSET.QD, COUNT_OFFSET.AN, COUNT_OFFSET.NS].map((o) =>
    readU16(response, o)
  );
  assert.deepEqual(counts, [1, 3, 1]);
});

Deno.test("buildClientResponse() replaces the upstream OPT with one keeping only EDE", () => {
  for (const [query, dnssecOk] of [[CLIENT_EDNS, true], [CLIENT_EDNS_NO_DO, false]] as const) {
    const { response, layout, decoded } = respond(REPLY, query);
    const opts = decoded.additionals.filter((r) => r.type === "OPT");
    assert.equal(opts.length, 1);
    const record = opts[0]!;
    assert.equal(decoded.additionals.at(-1), record, "OPT comes last");
    assert.equal(record.udpPayloadSize, MAX_UDP);
    assert.equal(record.flag_do, dnssecOk, "DO comes from the client");
    assert.deepEqual([record.ednsVersion, record.extendedRcode], [0, 0]);
    assert.deepEqual(record.options!.map((o) => [o.code, [...o.data]]), [[15, [...EDE.data]]]);
    assert.equal(readU16(response, COUNT_OFFSET.AR), 2);
    assert.equal(layout.edns?.recordsAfter, 0);
  }
});

Deno.test("buildClientResponse() keeps several EDE options in order", () => {
  const second: PacketOption = { code: 15, data: new Uint8Array([0, 22]) };
  const reply = { ...REPLY, additionals: [opt(0, [EDE, PADDING, second, COOKIE])] };
  const { decoded } = respond(reply, CLIENT_EDNS);
  const options = decoded.additionals[0]!.options!;
  assert.deepEqual(options.map((o) => [...o.data]), [[...EDE.data], [0, 22]]);
});

Deno.test("buildClientResponse() adds no OPT when the client sent none", () => {
  const { response, decoded } = respond(REPLY, CLIENT_PLAIN);
  assert.deepEqual(decoded.additionals.map((r) => r.type), ["A"]);
  assert.equal(readU16(response, COUNT_OFFSET.AR), 1);
  assert.equal(new TextDecoder().decode(response).includes("stale"), false, "no EDE text");
});

Deno.test("buildClientResponse() adds an empty OPT when the upstream sent none", () => {
  const { decoded } = respond({ ...REPLY, additionals: [GLUE[0]!] }, CLIENT_EDNS);
  assert.deepEqual(decoded.additionals.map((r) => r.type), ["A", "OPT"]);
  assert.deepEqual(decoded.additionals[1]!.options, []);
  assert.equal(decoded.additionals[1]!.flag_do, true);
});

Deno.test("buildClientResponse() drops the records after an OPT that is not last", () => {
  const reply = { ...REPLY, additionals: [GLUE[0]!, opt(0, [EDE]), GLUE[1]!, GLUE[2]!] };
  assert.equal(parseMessage(encodeCompressed(reply)).edns?.recordsAfter, 2);
  for (const [query, types] of [[CLIENT_EDNS, ["A", "OPT"]], [CLIENT_PLAIN, ["A"]]] as const) {
    const { response, decoded } = respond(reply, query);
    assert.deepEqual(decoded.additionals.map((r) => r.type), types);
    assert.equal(decoded.additionals[0]!.name, "ns1.ExAmPlE.CoM");
    assert.equal(readU16(response, COUNT_OFFSET.AR), types.length);
  }
});

Deno.test("buildClientResponse() passes the RCODE and the extended RCODE on", () => {
  const nxdomain = { ...REPLY, flags: REPLY.flags! | 3, answers: [] };
  assert.equal(respond(nxdomain, CLIENT_EDNS).decoded.rcode, "NXDOMAIN");
  assert.equal(respond(nxdomain, CLIENT_PLAIN).decoded.rcode, "NXDOMAIN");
  // An extended RCODE (here 16, BADVERS/BADSIG) needs an OPT record to travel in.
  const extended = { ...REPLY, additionals: [opt(0, [], 1)] };
  const withEdns = respond(extended, CLIENT_EDNS);
  assert.equal(withEdns.decoded.rcode, "NOERROR");
  assert.equal(withEdns.layout.edns?.extendedRcode, 1);
  const plain = respond(extended, CLIENT_PLAIN);
  assert.equal(plain.decoded.rcode, "SERVFAIL", "cannot be expressed without OPT");
  assert.equal(plain.layout.edns, null);
});

Deno.test("buildClientResponse() answers TC=1 with the question alone over the limit", () => {
  for (const query of [CLIENT_EDNS, CLIENT_EDNS_NO_DO, CLIENT_PLAIN]) {
    const full = respond(REPLY, query).response;
    assert.deepEqual(respond(REPLY, query, full.length).response, full, "exactly at the limit");
    const { response, layout, decoded } = respond(REPLY, query, full.length - 1);
    assert.equal(decoded.flag_tc, true);
    assert.deepEqual([decoded.flag_qr, decoded.flag_rd, decoded.flag_ra], [true, true, true]);
    assert.equal(decoded.id, CLIENT_ID);
    assert.deepEqual(decoded.questions, [{ ...CLIENT_QUESTION, class: "IN" }]);
    assert.deepEqual([decoded.answers, decoded.authorities], [[], []]);
    const clientEdns = parseMessage(query).edns;
    if (clientEdns) {
      assert.equal(decoded.additionals.length, 1);
      const record = decoded.additionals[0]!;
      assert.deepEqual(
        [record.type, record.udpPayloadSize, record.flag_do, record.options],
        ["OPT", MAX_UDP, clientEdns.dnssecOk, []],
      );
    } else {
      assert.deepEqual(decoded.additionals, []);
    }
    assert.equal(response.length, layout.questionEnd + (clientEdns ? 11 : 0));
  }
});

Deno.test("buildClientResponse() keeps the RCODE and extended RCODE when truncating", () => {
  const nxdomain = { ...REPLY, flags: REPLY.flags! | 3 };
  for (const query of [CLIENT_EDNS, CLIENT_PLAIN]) {
    const truncated = respond(nxdomain, query, 100);
    assert.deepEqual([truncated.decoded.flag_tc, truncated.decoded.rcode], [true, "NXDOMAIN"]);
  }
  const extended = { ...REPLY, additionals: [opt(0, [EDE], 1)] };
  const withEdns = respond(extended, CLIENT_EDNS, 100);
  assert.deepEqual([withEdns.decoded.flag_tc, withEdns.decoded.rcode], [true, "NOERROR"]);
  assert.equal(withEdns.layout.edns?.extendedRcode, 1);
  const plain = respond(extended, CLIENT_PLAIN, 100);
  assert.deepEqual([plain.decoded.flag_tc, plain.decoded.rcode], [true, "SERVFAIL"]);
});

Deno.test("buildClientResponse() truncates a large answer at 512 octets without EDNS", () => {
  const answers = Array.from({ length: 40 }, (_, i): PacketRecord => ({
    name: "www.example.com",
    type: "AAAA",
    ttl: 30,
    data: `2001:db8::${i + 1}`,
  }));
  const reply = { ...REPLY, answers, additionals: [] };
  assert.equal(respond(reply, CLIENT_PLAIN).decoded.answers.length, 40);
  const truncated = respond(reply, CLIENT_PLAIN, 512);
  assert.equal(truncated.decoded.flag_tc, true);
  assert.ok(truncated.response.length <= 512);
  assert.deepEqual(truncated.decoded.answers, []);
});

Deno.test("buildClientResponse() drops octets after the upstream's last record", () => {
  const reply = encodeCompressed({ ...REPLY, additionals: [GLUE[0]!] });
  const padded = new Uint8Array([...reply, 0xde, 0xad, 0xbe, 0xef]);
  assert.equal(respond(padded, CLIENT_PLAIN).response.length, reply.length);
  assert.equal(respond(padded, CLIENT_EDNS).response.length, reply.length + 11);
});

/** A reply to the client's question whose message, without any OPT record, is `size` octets. */
function replyOfSize(size: number, additionals: PacketRecord[] = []): Uint8Array {
  // TXT strings of 255 octets and a shorter last one, each with its length octet.
  const build = (rdata: number) => {
    const full = Math.floor(rdata / 256);
    const strings = [...Array.from({ length: full }, () => "x".repeat(255))];
    if (rdata % 256 > 0) strings.push("y".repeat(rdata % 256 - 1));
    const answers = [{ name: "www.example.com", type: "TXT", ttl: 60, data: strings }];
    return encode(forDnsPacket({ ...REPLY, answers, authorities: [], additionals }));
  };
  const optLength = (bytes: Uint8Array) => {
    const edns = parseMessage(bytes).edns;
    return edns === null ? 0 : edns.end - edns.start;
  };
  const probe = build(256);
  const reply = build(256 + size - (probe.length - optLength(probe)));
  assert.equal(reply.length - optLength(reply), size);
  return reply;
}

Deno.test("buildClientResponse() never truncates at the 65,535-octet limit: it sheds the EDNS options, then the OPT", () => {
  // Room for the answer and a bare OPT record, not for the upstream's Extended DNS Error.
  const withEde = replyOfSize(65_520, [opt(FLAGS.DO, [EDE])]);
  const shed = respond(withEde, CLIENT_EDNS);
  assert.equal(shed.decoded.flag_tc, false);
  assert.equal(shed.response.length, 65_520 + 11);
  assert.equal(shed.decoded.answers.length, 1);
  assert.deepEqual(shed.decoded.additionals.map((record) => record.options), [[]]);
  assert.equal(shed.layout.edns?.dnssecOk, true, "the OPT record keeps the DO bit");
  // No room for an OPT record at all: the answer alone.
  const big = respond(replyOfSize(65_530), CLIENT_EDNS);
  assert.equal(big.decoded.flag_tc, false);
  assert.equal(big.response.length, 65_530);
  assert.deepEqual([big.decoded.answers.length, big.decoded.additionals], [1, []]);
  assert.equal(big.decoded.rcode, "NOERROR");
  // An extended RCODE cannot be said without the OPT record: SERVFAIL, as for a client without EDNS.
  const extended = respond(replyOfSize(65_530, [opt(0, [], 1)]), CLIENT_EDNS);
  assert.deepEqual([extended.decoded.flag_tc, extended.decoded.rcode], [false, "SERVFAIL"]);
  // Below 65,535 (UDP), the client is still told to retry over TCP.
  assert.equal(respond(withEde, CLIENT_EDNS, 65_534).decoded.flag_tc, true);
});

Deno.test("buildClientResponse() applies the validator's AD rule when truncating", () => {
  // REPLY carries the upstream's AD=1.
  const replyBytes = encodeCompressed(REPLY);
  const truncate = (security: AnswerSecurity | undefined, query: Uint8Array) => {
    const answer = { ...answerFromReply(replyBytes.slice(), parseMessage(replyBytes)), security };
    const response = buildClientResponse(answer, query, parseMessage(query), {
      limit: 100,
      maxUdpSize: MAX_UDP,
    });
    const decoded = decode(response);
    assert.equal(decoded.flag_tc, true);
    return decoded.flag_ad;
  };
  for (const security of ["insecure", "bogus", "indeterminate", "unchecked"] as const) {
    assert.equal(truncate(security, CLIENT_EDNS), false, security);
  }
  assert.equal(truncate("secure", CLIENT_EDNS), true, "secure, DO=1");
  assert.equal(truncate("secure", CLIENT_PLAIN), false, "secure, neither DO nor AD asked");
  assert.equal(truncate(undefined, CLIENT_EDNS), true, "validation off: the upstream's AD");
});
