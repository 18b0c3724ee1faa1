import assert from "node:assert/strict";
import { DnsFormatError } from "./dns_format_error.ts";
import {
  getHeaderRcode,
  getId,
  getOpcode,
  isResponse,
  isTruncated,
  readU16,
  readU32,
  setId,
  writeU16,
  writeU32,
} from "./header.ts";
import { decode, encode, FLAGS } from "./test_packets_test.ts";

const U16_VALUES = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x1234, 0x7fff, 0x8000, 0xfffe, 0xffff];
const U32_VALUES = [
  0,
  1,
  0xff,
  0x100,
  0xffff,
  0x10000,
  0x7fffffff,
  0x80000000,
  0xdeadbeef,
  0xffffffff,
];

Deno.test("readU16() and writeU16() are big-endian and round-trip", () => {
  for (const value of U16_VALUES) {
    const bytes = new Uint8Array(5).fill(0xaa);
    writeU16(bytes, 2, value);
    assert.deepEqual([bytes[0], bytes[1], bytes[4]], [0xaa, 0xaa, 0xaa], "neighbours untouched");
    assert.equal(new DataView(bytes.buffer).getUint16(2), value);
    assert.equal(readU16(bytes, 2), value);
  }
});

Deno.test("readU32() and writeU32() handle values of 2^31 and above", () => {
  for (const value of U32_VALUES) {
    const bytes = new Uint8Array(7).fill(0x55);
    writeU32(bytes, 1, value);
    assert.deepEqual([bytes[0], bytes[5], bytes[6]], [0x55, 0x55, 0x55], "neighbours untouched");
    assert.equal(new DataView(bytes.buffer).getUint32(1), value);
    const read = readU32(bytes, 1);
    assert.equal(read, value);
    assert.ok(read >= 0, "never negative");
  }
  assert.equal(readU32(new Uint8Array([0xff, 0xff, 0xff, 0xff]), 0), 4294967295);
  assert.equal(readU32(new Uint8Array([0x80, 0, 0, 0]), 0), 2147483648);
});

Deno.test("readU16() and readU32() read at any offset of a view", () => {
  const backing = new Uint8Array([9, 9, 0x12, 0x34, 0x56, 0x78]);
  const view = backing.subarray(2);
  assert.equal(readU16(view, 0), 0x1234);
  assert.equal(readU16(view, 2), 0x5678);
  assert.equal(readU32(view, 0), 0x12345678);
});

Deno.test("getId() and setId() access the first two octets", () => {
  const message = encode({ id: 0xabcd, questions: [] });
  assert.equal(getId(message), 0xabcd);
  setId(message, 0x0102);
  assert.equal(decode(message).id, 0x0102);
  assert.deepEqual([...message.subarray(0, 2)], [1, 2]);
});

Deno.test("header flag helpers agree with dns-packet", () => {
  const cases = [
    { type: "query" as const, flags: 0 },
    { type: "response" as const, flags: FLAGS.TC | FLAGS.RD | 3 },
    { type: "response" as const, flags: FLAGS.AA | FLAGS.RA | FLAGS.AD | FLAGS.CD | 15 },
    { type: "query" as const, flags: (5 << 11) | FLAGS.RD }, // UPDATE
    { type: "query" as const, flags: (15 << 11) | FLAGS.TC | 0x0f },
  ];
  for (const { type, flags } of cases) {
    const message = encode({ id: 1, type, flags, questions: [] });
    const decoded = decode(message);
    assert.equal(isResponse(message), decoded.flag_qr);
    assert.equal(isTruncated(message), decoded.flag_tc);
    assert.equal(getOpcode(message), (flags >> 11) & 0x0f);
    assert.equal(getHeaderRcode(message), flags & 0x0f);
  }
});

Deno.test("DnsFormatError is a SyntaxError carrying the offset", () => {
  const error = new DnsFormatError("Cannot read name: pointer loop", 14);
  assert.ok(error instanceof SyntaxError);
  assert.ok(error instanceof Error);
  assert.equal(error.name, "DnsFormatError");
  assert.equal(error.offset, 14);
  assert.equal(error.message, "Cannot read name: pointer loop at offset 14");
});
