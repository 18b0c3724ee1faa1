import assert from "node:assert/strict";
import { DnsFormatError } from "./dns_format_error.ts";
import { readU16, readU32, writeU16 } from "./header.ts";
import {
  forEachOption,
  parseMessage,
  type RecordPosition,
  SECTION,
  walkRecords,
} from "./message.ts";
import {
  assertLayoutMatches,
  decode,
  encode,
  encodeCompressed,
  FLAGS,
  forDnsPacket,
  header,
  type Packet,
  type PacketRecord,
  typeNumber,
  wireName,
} from "./test_packets_test.ts";

const COOKIE = { code: 10, data: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) };

function opt(flags = 0, options = [COOKIE], udpPayloadSize = 1232): PacketRecord {
  return { name: ".", type: "OPT", udpPayloadSize, flags, options };
}

const QUERY: Packet = {
  id: 0x1234,
  type: "query",
  flags: FLAGS.RD,
  questions: [{ name: "www.Example.COM", type: "AAAA" }],
};
const QUERY_DO: Packet = { ...QUERY, additionals: [opt(FLAGS.DO)] };

const ANSWER: Packet = {
  id: 0x1234,
  type: "response",
  flags: FLAGS.RD | FLAGS.RA,
  questions: [{ name: "www.example.com", type: "A" }],
  answers: [
    { name: "www.example.com", type: "CNAME", ttl: 300, data: "web.example.com" },
    { name: "web.example.com", type: "A", ttl: 0x80000000, data: "192.0.2.1" },
    { name: "web.example.com", type: "AAAA", ttl: 0xffffffff, data: "2001:db8::1" },
    {
      name: "example.com",
      type: "MX",
      ttl: 7,
      data: { preference: 10, exchange: "mx.example.com" },
    },
    { name: "Example.com", type: "TXT", ttl: 1, data: ["v=spf1 -all", "x"] },
  ],
  authorities: [{ name: "example.com", type: "NS", ttl: 86400, data: "ns1.example.com" }],
  additionals: [
    { name: "ns1.example.com", type: "A", ttl: 3600, data: "192.0.2.53" },
    opt(FLAGS.DO, [{ code: 12, data: new Uint8Array(17) }]),
  ],
};

const SOA = {
  mname: "ns1.example.com",
  rname: "hostmaster.example.com",
  serial: 2024010101,
  refresh: 7200,
  retry: 3600,
  expire: 1209600,
  minimum: 300,
};
const NXDOMAIN: Packet = {
  id: 7,
  type: "response",
  flags: FLAGS.RD | FLAGS.RA | 3,
  questions: [{ name: "nope.example.com", type: "A" }],
  authorities: [{ name: "example.com", type: "SOA", ttl: 900, data: SOA }],
};

/** Both encodings of a packet: dns-packet's (uncompressed) and the compressing one. */
function encodings(packet: Packet): Uint8Array[] {
  return [encode(forDnsPacket(packet)), encodeCompressed(packet)];
}

function assertFormatError(bytes: Uint8Array, pattern: RegExp): void {
  assert.throws(() => parseMessage(bytes), (error: unknown) => {
    assert.ok(error instanceof DnsFormatError, `not a DnsFormatError: ${error}`);
    assert.match(error.message, pattern);
    return true;
  });
}

Deno.test("parseMessage() reads a query without OPT", () => {
  const bytes = encode(QUERY);
  const layout = parseMessage(bytes);
  assertLayoutMatches(bytes, layout);
  assert.deepEqual(
    { ...layout },
    { questionCount: 1, questionEnd: 33, qtype: 28, qclass: 1, edns: null, end: 33 },
  );
});

Deno.test("parseMessage() reads a query with OPT and the DO bit", () => {
  for (const flags of [0, FLAGS.DO]) {
    const bytes = encode(forDnsPacket({ ...QUERY, additionals: [opt(flags)] }));
    const layout = parseMessage(bytes);
    assertLayoutMatches(bytes, layout);
    assert.deepEqual(layout.edns, {
      start: 33,
      end: bytes.length,
      udpSize: 1232,
      extendedRcode: 0,
      version: 0,
      dnssecOk: flags !== 0,
      optionsStart: 33 + 11,
      recordsAfter: 0,
    });
    assert.equal(layout.end, bytes.length);
  }
});

Deno.test("parseMessage() reads the EDNS version and extended RCODE", () => {
  const record = { ...opt(0, []), ednsVersion: 1, extendedRcode: 1, udpPayloadSize: 512 };
  const bytes = encode(forDnsPacket({ ...QUERY, additionals: [record] }));
  const layout = parseMessage(bytes);
  assertLayoutMatches(bytes, layout);
  assert.equal(layout.edns?.version, 1);
  assert.equal(layout.edns?.extendedRcode, 1);
  assert.equal(layout.edns?.udpSize, 512);
});

Deno.test("parseMessage() reads answers with compressed names of several types", () => {
  for (const bytes of encodings(ANSWER)) {
    const layout = parseMessage(bytes);
    assertLayoutMatches(bytes, layout);
    assert.equal(layout.end, bytes.length);
    assert.equal(layout.edns?.udpSize, 1232);
    assert.equal(layout.edns?.dnssecOk, true);
  }
  const [plain, compressed] = encodings(ANSWER);
  assert.ok(compressed!.length < plain!.length - 50, "names were compressed");
});

Deno.test("parseMessage() reads NXDOMAIN with a SOA record", () => {
  for (const bytes of encodings(NXDOMAIN)) {
    const layout = parseMessage(bytes);
    assertLayoutMatches(bytes, layout);
    assert.equal(layout.end, bytes.length);
    assert.equal(decode(bytes).rcode, "NXDOMAIN");
  }
});

Deno.test("parseMessage() accepts a header alone and no question", () => {
  const layout = parseMessage(new Uint8Array(header(1, 0, 0, 0, 0, 0)));
  assert.deepEqual(
    { ...layout },
    { questionCount: 0, questionEnd: 12, qtype: -1, qclass: -1, edns: null, end: 12 },
  );
  const noQuestion = encode({ ...ANSWER, questions: [], additionals: [] });
  assertLayoutMatches(noQuestion, parseMessage(noQuestion));
});

Deno.test("parseMessage() rejects messages shorter than the header", () => {
  for (let length = 0; length < 12; length++) {
    assertFormatError(new Uint8Array(length), /Cannot read header: truncated/);
  }
});

Deno.test("parseMessage() rejects more than one question", () => {
  const bytes = encode({ ...QUERY, questions: [QUERY.questions![0]!, QUERY.questions![0]!] });
  assertFormatError(bytes, /more than one question/);
  writeU16(bytes, 4, 0xffff);
  assertFormatError(bytes, /more than one question/);
});

Deno.test("parseMessage() rejects several OPT records", () => {
  for (const bytes of encodings({ ...QUERY, additionals: [opt(), opt(FLAGS.DO)] })) {
    assertFormatError(bytes, /OPT: more than one/);
  }
  const withGlue = { ...ANSWER, additionals: [opt(), ANSWER.answers![1]!, opt()] };
  for (const bytes of encodings(withGlue)) assertFormatError(bytes, /OPT: more than one/);
});

Deno.test("parseMessage() rejects OPT outside the additional section", () => {
  for (const section of ["answers", "authorities"] as const) {
    for (const bytes of encodings({ ...ANSWER, [section]: [opt()], additionals: [] })) {
      assertFormatError(bytes, /OPT: not in the additional section/);
    }
  }
});

Deno.test("parseMessage() rejects OPT with a non-root owner", () => {
  const bytes = encodeCompressed({ ...QUERY, additionals: [{ ...opt(), name: "example" }] });
  assertFormatError(bytes, /OPT: owner is not the root/);
});

Deno.test("parseMessage() rejects EDNS options that run past the OPT RDATA", () => {
  const bytes = encode(forDnsPacket(QUERY_DO)); // one COOKIE option of 8 octets
  const optionLength = bytes.length - 8 - 2;
  for (const [length, pattern] of [[9, /data truncated/], [0xffff, /data truncated/]] as const) {
    const broken = bytes.slice();
    writeU16(broken, optionLength, length);
    assertFormatError(broken, pattern);
  }
  // RDLENGTH shortened so the 4-octet option header itself is cut.
  const rdlength = bytes.length - 12 - 2;
  for (const length of [1, 2, 3, 5, 11]) {
    const broken = bytes.slice();
    writeU16(broken, rdlength, length);
    assertFormatError(broken, /EDNS option/);
  }
});

Deno.test("parseMessage() rejects every truncation of a valid message", () => {
  for (
    const bytes of [...encodings(ANSWER), ...encodings(NXDOMAIN), encode(forDnsPacket(QUERY_DO))]
  ) {
    for (let length = 0; length < bytes.length; length++) {
      assert.throws(
        () => parseMessage(bytes.subarray(0, length)),
        DnsFormatError,
        `cut at ${length}`,
      );
    }
  }
});

Deno.test("parseMessage() rejects counts beyond the data", () => {
  for (const countOffset of [4, 6, 8, 10]) {
    const bytes = encodeCompressed(ANSWER);
    writeU16(bytes, countOffset, readU16(bytes, countOffset) + 1);
    assert.throws(() => parseMessage(bytes), DnsFormatError, `count at ${countOffset}`);
  }
  const huge = new Uint8Array([
    ...header(1, 0, 1, 0xffff, 0xffff, 0xffff),
    ...wireName("a"),
    0,
    1,
    0,
    1,
  ]);
  assertFormatError(huge, /truncated/);
});

Deno.test("parseMessage() rejects a truncated question", () => {
  const question = [...header(1, 0, 1, 0, 0, 0), ...wireName("example.com")];
  assertFormatError(new Uint8Array(question), /question: truncated/);
  assertFormatError(new Uint8Array([...question, 0, 1, 0]), /question: truncated/);
  assertFormatError(new Uint8Array([...header(1, 0, 1, 0, 0, 0), 7, 97]), /name: truncated/);
});

Deno.test("parseMessage() ignores trailing octets and sets end before them", () => {
  for (const bytes of [...encodings(ANSWER), encode(QUERY)]) {
    const padded = new Uint8Array([...bytes, 0xc0, 0x0c, 0xff, 0]);
    const layout = parseMessage(padded);
    assert.equal(layout.end, bytes.length);
    assert.deepEqual(layout, parseMessage(bytes));
  }
});

Deno.test("parseMessage() counts the records after a misplaced OPT", () => {
  const [a, aaaa] = [ANSWER.answers![1]!, ANSWER.answers![2]!];
  for (const [additionals, after] of [[[opt(), a], 1], [[a, opt(), a, aaaa], 2]] as const) {
    for (const bytes of encodings({ ...ANSWER, additionals: [...additionals] })) {
      const layout = parseMessage(bytes);
      assertLayoutMatches(bytes, layout);
      assert.equal(layout.edns?.recordsAfter, after);
    }
  }
});

Deno.test("walkRecords() visits every record with its type, TTL offset and section", () => {
  for (const bytes of [...encodings(ANSWER), ...encodings(NXDOMAIN)]) {
    const layout = parseMessage(bytes);
    const seen: RecordPosition[] = [];
    const end = walkRecords(bytes, layout.questionEnd, (record) => seen.push({ ...record }));
    assert.equal(end, bytes.length);
    assert.equal(walkRecords(bytes, layout.questionEnd), end, "same end without a visitor");
    const decoded = decode(bytes);
    const expected = [
      ...decoded.answers.map((r) => ({ r, section: SECTION.ANSWER })),
      ...decoded.authorities.map((r) => ({ r, section: SECTION.AUTHORITY })),
      ...decoded.additionals.map((r) => ({ r, section: SECTION.ADDITIONAL })),
    ];
    assert.equal(seen.length, expected.length);
    let position = layout.questionEnd;
    seen.forEach((record, i) => {
      const { r, section } = expected[i]!;
      assert.equal(record.start, position, "records are contiguous");
      assert.equal(record.type, typeNumber(r.type));
      assert.equal(record.section, section);
      assert.equal(record.ttlOffset, record.rdataOffset - 6);
      assert.equal(record.rdataOffset + record.rdataLength, record.end);
      if (r.type === "OPT") assert.equal(record.klass, r.udpPayloadSize);
      else {
        assert.equal(readU32(bytes, record.ttlOffset), r.ttl);
        assert.equal(record.klass, 1);
      }
      position = record.end;
    });
  }
});

Deno.test("forEachOption() visits each option and rejects truncated ones", () => {
  const options = new Uint8Array([0, 10, 0, 2, 0xaa, 0xbb, 0, 12, 0, 0, 0, 15, 0, 3, 0, 1, 0x41]);
  const seen: number[][] = [];
  forEachOption(
    options,
    0,
    options.length,
    (code, offset, length) => seen.push([code, offset, length]),
  );
  assert.deepEqual(seen, [[10, 4, 2], [12, 10, 0], [15, 14, 3]]);
  forEachOption(options, 6, 6, () => assert.fail("no options in an empty range"));
  for (let end = 1; end < options.length; end++) {
    if (end === 6 || end === 10) continue; // option boundaries
    assert.throws(() => forEachOption(options, 0, end, () => {}), DnsFormatError, `end ${end}`);
  }
});
