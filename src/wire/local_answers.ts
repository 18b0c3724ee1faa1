/**
 * Answers the proxy gives itself, without asking an upstream: `id.server.`
 * in class CHAOS (RFC 4892), which Unbound and dnsdist also answer, so that a
 * health check proves the proxy is serving even when the upstreams are down.
 *
 * @module
 */

import { HEADER_LENGTH, RRCLASS, RRTYPE } from "./constants.ts";
import { COUNT_OFFSET, FLAG2, FLAG3, writeU16 } from "./header.ts";
import type { MessageLayout } from "./message.ts";
import { namesEqual } from "./name.ts";

/**
 * The query `id.server. CH TXT` (ID 0, RD clear), used by `dotproxy
 * healthcheck`; its name also serves to recognise the question here.
 */
export const ID_SERVER_QUERY: Uint8Array = Uint8Array.from([
  ...new Array(HEADER_LENGTH).fill(0),
  ...[2, ...new TextEncoder().encode("id"), 6, ...new TextEncoder().encode("server"), 0],
  ...[0, RRTYPE.TXT, 0, RRCLASS.CH],
]);
ID_SERVER_QUERY[COUNT_OFFSET.QD + 1] = 1;

/** The text `id.server.` answers with. */
const IDENTITY = new TextEncoder().encode("dotproxy");

/**
 * Whether a query asks `id.server. CH TXT`.
 *
 * @param query The query.
 * @param layout Its layout (one question).
 * @returns True when the proxy answers it itself.
 */
export function isIdServerQuery(query: Uint8Array, layout: MessageLayout): boolean {
  return layout.qclass === RRCLASS.CH && layout.qtype === RRTYPE.TXT &&
    layout.questionEnd === ID_SERVER_QUERY.length &&
    namesEqual(query, HEADER_LENGTH, ID_SERVER_QUERY, HEADER_LENGTH);
}

/**
 * Builds the answer to `id.server. CH TXT`: one TXT record "dotproxy", TTL 0,
 * its owner a pointer to the question (RFC 1035 §4.1.4). The proxy adds its
 * OPT record for EDNS clients like for any other answer.
 *
 * @param query The query (an `id.server. CH TXT` question).
 * @param layout Its layout.
 * @returns The answer, without OPT.
 */
export function buildIdServerAnswer(query: Uint8Array, layout: MessageLayout): Uint8Array {
  const recordStart = layout.questionEnd;
  const rdataLength = 1 + IDENTITY.length;
  const message = new Uint8Array(recordStart + 12 + rdataLength);
  message.set(query.subarray(0, recordStart));
  message[2] = FLAG2.QR | FLAG2.AA | (query[2]! & FLAG2.RD);
  message[3] = query[3]! & FLAG3.CD;
  writeU16(message, COUNT_OFFSET.QD, 1);
  writeU16(message, COUNT_OFFSET.AN, 1);
  writeU16(message, COUNT_OFFSET.NS, 0);
  writeU16(message, COUNT_OFFSET.AR, 0);
  writeU16(message, recordStart, 0xc000 | HEADER_LENGTH); // owner: the question's name
  writeU16(message, recordStart + 2, RRTYPE.TXT);
  writeU16(message, recordStart + 4, RRCLASS.CH);
  // TTL 0 (bytes 6-9 stay zero): nobody should cache a health answer.
  writeU16(message, recordStart + 10, rdataLength);
  message[recordStart + 12] = IDENTITY.length;
  message.set(IDENTITY, recordStart + 13);
  return message;
}
