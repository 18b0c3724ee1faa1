import assert from "node:assert/strict";
import { HEADER_LENGTH } from "./constants.ts";
import {
  extendedErrorLength,
  OPT_HEADER_LENGTH,
  writeExtendedError,
  writeOptHeader,
} from "./edns.ts";
import { parseMessage } from "./message.ts";
import { ascii, decode, header } from "./test_packets_test.ts";

/** A header with one additional record, followed by `length` more octets. */
function withOneAdditional(length: number): Uint8Array {
  const message = new Uint8Array(HEADER_LENGTH + length).fill(0xee);
  message.set(header(1, 0, 0, 0, 0, 1));
  return message;
}

Deno.test("writeOptHeader() writes an EDNS(0) OPT record dns-packet reads", () => {
  for (
    const fields of [
      { udpSize: 1232, extendedRcode: 0, dnssecOk: false },
      { udpSize: 512, extendedRcode: 1, dnssecOk: true },
      { udpSize: 65535, extendedRcode: 0xff, dnssecOk: true },
    ]
  ) {
    const message = withOneAdditional(OPT_HEADER_LENGTH);
    assert.equal(writeOptHeader(message, HEADER_LENGTH, fields, 0), message.length);
    const opt = decode(message).additionals[0]!;
    assert.equal(opt.type, "OPT");
    assert.equal(opt.name, ".");
    assert.equal(opt.udpPayloadSize, fields.udpSize);
    assert.equal(opt.extendedRcode, fields.extendedRcode);
    assert.equal(opt.ednsVersion, 0);
    assert.equal(opt.flags, fields.dnssecOk ? 0x8000 : 0, "Z bits are zero");
    assert.deepEqual(opt.options, []);
    assert.deepEqual(parseMessage(message).edns?.dnssecOk, fields.dnssecOk);
  }
});

Deno.test("writeExtendedError() writes an EDE option inside the OPT RDATA", () => {
  const text = ascii("no reachable authority");
  const length = extendedErrorLength(text);
  assert.equal(length, 4 + 2 + text.length);
  const message = withOneAdditional(OPT_HEADER_LENGTH + length);
  const options = writeOptHeader(message, HEADER_LENGTH, {
    udpSize: 1232,
    extendedRcode: 0,
    dnssecOk: false,
  }, length);
  assert.equal(options, HEADER_LENGTH + OPT_HEADER_LENGTH);
  assert.equal(writeExtendedError(message, options, 22, text), message.length);
  const option = decode(message).additionals[0]!.options![0]!;
  assert.equal(option.code, 15);
  assert.deepEqual([...option.data], [0, 22, ...text]);
  assert.equal(parseMessage(message).end, message.length);
});

Deno.test("writeExtendedError() writes an empty EXTRA-TEXT as the INFO-CODE alone", () => {
  const target = new Uint8Array(8).fill(0xee);
  assert.equal(extendedErrorLength(new Uint8Array(0)), 6);
  assert.equal(writeExtendedError(target, 1, 0x1234, new Uint8Array(0)), 7);
  assert.deepEqual([...target], [0xee, 0, 15, 0, 2, 0x12, 0x34, 0xee]);
});
