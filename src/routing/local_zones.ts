/**
 * Zones answered locally so that private names and addresses never reach
 * the public upstreams (as Unbound does by default; RFC 6761, RFC 6762,
 * RFC 7686, RFC 6303): `localhost` resolves to loopback, and `local`,
 * `invalid`, `onion` and the reverse zones of private and link-local
 * addresses get NXDOMAIN with a SOA. `test` and `example` are not on the
 * list: tests and benchmarks use them.
 *
 * @module
 */

import { HEADER_LENGTH, RCODE, RRCLASS, RRTYPE } from "../wire/constants.ts";
import { COUNT_OFFSET, FLAG2, FLAG3, writeU16, writeU32 } from "../wire/header.ts";
import type { MessageLayout } from "../wire/message.ts";
import { zoneKey } from "./zone_table.ts";

/** The built-in local zones (turned off with `--builtin-zones=false`). */
export const BUILTIN_ZONES: readonly string[] = Object.freeze([
  "localhost",
  "local",
  "invalid",
  "onion",
  "10.in-addr.arpa",
  ...Array.from({ length: 16 }, (_, i) => `${16 + i}.172.in-addr.arpa`),
  "168.192.in-addr.arpa",
  "254.169.in-addr.arpa",
  "c.f.ip6.arpa",
  "d.f.ip6.arpa",
  "8.e.f.ip6.arpa",
  "9.e.f.ip6.arpa",
  "a.e.f.ip6.arpa",
  "b.e.f.ip6.arpa",
]);

/** TTL of local answers and of their SOA (Unbound's 10800). */
const LOCAL_TTL = 10800;
/** SOA RDATA: `localhost. nobody.invalid. 1 3600 1200 604800 10800`. */
const SOA_RDATA = new Uint8Array([
  9,
  ...new TextEncoder().encode("localhost"),
  0,
  6,
  ...new TextEncoder().encode("nobody"),
  7,
  ...new TextEncoder().encode("invalid"),
  0,
  0,
  0,
  0,
  1,
  0,
  0,
  0x0e,
  0x10,
  0,
  0,
  0x04,
  0xb0,
  0,
  0x09,
  0x3a,
  0x80,
  0,
  0,
  0x2a,
  0x30,
]);
const LOOPBACK_V4 = new Uint8Array([127, 0, 0, 1]);
const LOOPBACK_V6 = new Uint8Array([...new Array(15).fill(0), 1]);

/** One record of a local answer. */
interface LocalRecord {
  readonly owner: Uint8Array;
  readonly type: number;
  readonly rdata: Uint8Array;
}

/**
 * Builds the local answer for a query in a built-in zone.
 *
 * @param query The query.
 * @param layout Its layout (one question).
 * @param zone The built-in zone holding the name (text).
 * @returns The answer, without OPT (the caller adds the client's).
 */
export function buildLocalAnswer(
  query: Uint8Array,
  layout: MessageLayout,
  zone: string,
): Uint8Array {
  const zoneWire = wire(zone);
  const qnameLength = layout.questionEnd - 4 - HEADER_LENGTH;
  const atApex = qnameLength === zoneWire.length;
  const soa: LocalRecord = { owner: zoneWire, type: RRTYPE.SOA, rdata: SOA_RDATA };
  const answers: LocalRecord[] = [];
  let rcode: number = RCODE.NOERROR;
  const inClassIn = layout.qclass === RRCLASS.IN;
  if (zone === "localhost" && inClassIn && layout.qtype === RRTYPE.A) {
    answers.push({ owner: qname(query, layout), type: RRTYPE.A, rdata: LOOPBACK_V4 });
  } else if (zone === "localhost" && inClassIn && layout.qtype === RRTYPE.AAAA) {
    answers.push({ owner: qname(query, layout), type: RRTYPE.AAAA, rdata: LOOPBACK_V6 });
  } else if (atApex && inClassIn && layout.qtype === RRTYPE.SOA) {
    answers.push(soa);
  } else if (!atApex && zone !== "localhost") {
    rcode = RCODE.NXDOMAIN; // RFC 6761 §6.4 for `invalid`; nothing exists below the others
  }
  const authority = answers.length === 0 ? [soa] : [];
  return assemble(query, layout, rcode, answers, authority);
}

function assemble(
  query: Uint8Array,
  layout: MessageLayout,
  rcode: number,
  answers: readonly LocalRecord[],
  authority: readonly LocalRecord[],
): Uint8Array {
  const records = [...answers, ...authority];
  const length = records.reduce((n, r) => n + r.owner.length + 10 + r.rdata.length, 0);
  const message = new Uint8Array(layout.questionEnd + length);
  message.set(query.subarray(0, layout.questionEnd));
  message[2] = FLAG2.QR | FLAG2.AA | (query[2]! & FLAG2.RD);
  message[3] = FLAG3.RA | (query[3]! & FLAG3.CD) | rcode;
  writeU16(message, COUNT_OFFSET.AN, answers.length);
  writeU16(message, COUNT_OFFSET.NS, authority.length);
  writeU16(message, COUNT_OFFSET.AR, 0);
  let offset = layout.questionEnd;
  for (const record of records) {
    message.set(record.owner, offset);
    offset += record.owner.length;
    writeU16(message, offset, record.type);
    writeU16(message, offset + 2, RRCLASS.IN);
    writeU32(message, offset + 4, LOCAL_TTL);
    writeU16(message, offset + 8, record.rdata.length);
    message.set(record.rdata, offset + 10);
    offset += 10 + record.rdata.length;
  }
  return message;
}

/** The question name as sent (uncompressed in a valid query). */
function qname(query: Uint8Array, layout: MessageLayout): Uint8Array {
  return query.slice(HEADER_LENGTH, layout.questionEnd - 4);
}

function wire(zone: string): Uint8Array {
  const key = zoneKey(zone);
  return Uint8Array.from(key, (c) => c.charCodeAt(0));
}
