/**
 * Answers the proxy sends to its clients: forwarded replies made fit for the
 * client (ID, question case, the proxy's own OPT, the client's UDP size) and
 * answers the proxy writes itself (FORMERR, SERVFAIL, NOTIMP, BADVERS...).
 *
 * @module
 */

import { EDNS_OPTION, HEADER_LENGTH, MIN_UDP_PAYLOAD, RCODE } from "./constants.ts";
import { COUNT_OFFSET, FLAG2, FLAG3, readU16, writeU16 } from "./header.ts";
import type { MessageLayout } from "./message.ts";
import { forEachOption } from "./message.ts";
import {
  extendedErrorLength,
  OPT_HEADER_LENGTH,
  type OptFields,
  writeExtendedError,
  writeOptHeader,
} from "./edns.ts";

/** An Extended DNS Error to attach to an answer (RFC 8914). */
export interface ExtendedError {
  readonly code: number;
  readonly text?: string;
}

const encoder = new TextEncoder();

/**
 * The largest UDP answer a client may get: 512 octets without EDNS, else its
 * advertised size (at least 512, RFC 6891 §6.2.3) capped at `maxUdpSize`.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { udpPayloadLimit } from "./responses.ts";
 *
 * assert.equal(udpPayloadLimit(null, 1232), 512);
 * ```
 *
 * @param layout The client query's layout (null when it had none).
 * @param maxUdpSize The proxy's `--max-udp-size`.
 * @returns The limit in octets.
 */
export function udpPayloadLimit(layout: MessageLayout | null, maxUdpSize: number): number {
  const edns = layout?.edns;
  if (!edns) return MIN_UDP_PAYLOAD;
  return Math.min(Math.max(edns.udpSize, MIN_UDP_PAYLOAD), maxUdpSize);
}

/**
 * Builds an answer the proxy writes itself: the client's ID, opcode, RD and
 * CD, QR and RA set, the question when it could be read, and an OPT record
 * (with an optional Extended DNS Error) only if the client sent one.
 *
 * @param query The client's query (at least 12 octets).
 * @param layout Its layout, or null when it could not be parsed.
 * @param rcode The response code (extended codes such as BADVERS need EDNS).
 * @param maxUdpSize UDP size advertised in the OPT record.
 * @param error Extended DNS Error to include when the client sent EDNS.
 * @returns The answer.
 */
export function buildErrorResponse(
  query: Uint8Array,
  layout: MessageLayout | null,
  rcode: number,
  maxUdpSize: number,
  error?: ExtendedError,
): Uint8Array {
  const questionEnd = layout?.questionCount === 1 ? layout.questionEnd : HEADER_LENGTH;
  const text = error?.text ? encoder.encode(error.text) : new Uint8Array(0);
  const edns = layout?.edns ?? null;
  const optionsLength = edns && error ? extendedErrorLength(text) : 0;
  const response = new Uint8Array(questionEnd + (edns ? OPT_HEADER_LENGTH + optionsLength : 0));
  response.set(query.subarray(0, questionEnd));
  response[2] = FLAG2.QR | (query[2]! & (0x78 | FLAG2.RD));
  response[3] = FLAG3.RA | (query[3]! & FLAG3.CD) | (rcode & 0x0f);
  writeU16(response, COUNT_OFFSET.QD, questionEnd > HEADER_LENGTH ? 1 : 0);
  writeU16(response, COUNT_OFFSET.AN, 0);
  writeU16(response, COUNT_OFFSET.NS, 0);
  writeU16(response, COUNT_OFFSET.AR, edns ? 1 : 0);
  if (edns) {
    const fields = { udpSize: maxUdpSize, extendedRcode: rcode >>> 4, dnssecOk: edns.dnssecOk };
    const options = writeOptHeader(response, questionEnd, fields, optionsLength);
    if (error) writeExtendedError(response, options, error.code, text);
  }
  return response;
}

/**
 * Turns an upstream reply into the answer for the client (RFC 6891 §6.1.1,
 * §7): the client's ID and question (so its letter case comes back as sent),
 * the upstream's OPT removed, and the proxy's own OPT added only when the
 * client sent one, carrying the extended RCODE and any Extended DNS Errors
 * the upstream gave (padding, cookies and keepalive stay on the TLS leg).
 * If the answer exceeds `limit`, the client gets the question alone with
 * TC=1 so that it retries over TCP (RFC 1035 §4.2.1, RFC 2181 §9).
 *
 * @param reply The upstream reply, already matched to the query.
 * @param replyLayout Its layout; its question has the same length as the client's.
 * @param query The client's query.
 * @param queryLayout Its layout.
 * @param limit Largest answer the client may get (65535 over TCP).
 * @param maxUdpSize UDP size advertised in the OPT record.
 * @returns The answer.
 */
export function buildClientResponse(
  reply: Uint8Array,
  replyLayout: MessageLayout,
  query: Uint8Array,
  queryLayout: MessageLayout,
  limit: number,
  maxUdpSize: number,
): Uint8Array {
  const upstreamOpt = replyLayout.edns;
  // Records after a misplaced OPT are additional data and may be dropped;
  // cutting there keeps every compression pointer of the kept part valid.
  const recordsEnd = upstreamOpt ? upstreamOpt.start : replyLayout.end;
  let additional = readU16(reply, COUNT_OFFSET.AR);
  if (upstreamOpt) additional -= 1 + upstreamOpt.recordsAfter;
  const clientEdns = queryLayout.edns;
  const errors = upstreamOpt && clientEdns ? extendedErrorOptions(reply, upstreamOpt) : [];
  let rcode = reply[3]! & 0x0f;
  const extendedRcode = upstreamOpt?.extendedRcode ?? 0;
  if (!clientEdns && extendedRcode !== 0) rcode = RCODE.SERVFAIL; // cannot be expressed without OPT
  const fields = { udpSize: maxUdpSize, extendedRcode, dnssecOk: clientEdns?.dnssecOk ?? false };
  let optLength = 0;
  if (clientEdns) optLength = OPT_HEADER_LENGTH + errors.reduce((n, e) => n + e.length, 0);
  const length = recordsEnd + optLength;
  if (length > limit) return buildTruncated(reply, query, queryLayout, fields, rcode);
  const response = new Uint8Array(length);
  response.set(reply.subarray(0, recordsEnd));
  response.set(query.subarray(0, 2)); // ID
  response.set(query.subarray(HEADER_LENGTH, queryLayout.questionEnd), HEADER_LENGTH);
  response[3] = (response[3]! & 0xf0) | rcode;
  writeU16(response, COUNT_OFFSET.AR, additional + (clientEdns ? 1 : 0));
  if (clientEdns) {
    let offset = writeOptHeader(response, recordsEnd, fields, optLength - OPT_HEADER_LENGTH);
    for (const option of errors) {
      response.set(option, offset);
      offset += option.length;
    }
  }
  return response;
}

function buildTruncated(
  reply: Uint8Array,
  query: Uint8Array,
  queryLayout: MessageLayout,
  fields: OptFields,
  rcode: number,
): Uint8Array {
  const questionEnd = queryLayout.questionEnd;
  const withOpt = queryLayout.edns !== null;
  const response = new Uint8Array(questionEnd + (withOpt ? OPT_HEADER_LENGTH : 0));
  response.set(query.subarray(0, questionEnd));
  response[2] = reply[2]! | FLAG2.TC;
  response[3] = (reply[3]! & 0xf0) | rcode;
  writeU16(response, COUNT_OFFSET.QD, 1);
  writeU16(response, COUNT_OFFSET.AN, 0);
  writeU16(response, COUNT_OFFSET.NS, 0);
  writeU16(response, COUNT_OFFSET.AR, withOpt ? 1 : 0);
  if (withOpt) writeOptHeader(response, questionEnd, fields, 0);
  return response;
}

/** The Extended DNS Error options of an OPT record, each as complete option bytes. */
function extendedErrorOptions(
  message: Uint8Array,
  edns: NonNullable<MessageLayout["edns"]>,
): Uint8Array[] {
  const found: Uint8Array[] = [];
  forEachOption(message, edns.optionsStart, edns.end, (code, dataOffset, dataLength) => {
    if (code === EDNS_OPTION.EXTENDED_ERROR) {
      found.push(message.subarray(dataOffset - 4, dataOffset + dataLength));
    }
  });
  return found;
}
