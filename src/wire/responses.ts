/**
 * Answers the proxy sends to its clients: forwarded replies made fit for the
 * client (ID, question case, the proxy's own OPT, the client's UDP size) and
 * answers the proxy writes itself (FORMERR, SERVFAIL, NOTIMP, BADVERS...).
 *
 * @module
 */

import { allocateBytes, copyRange } from "./byte_slab.ts";
import {
  EDE_CODE,
  EDNS_OPTION,
  HEADER_LENGTH,
  MAX_MESSAGE_SIZE,
  MIN_UDP_PAYLOAD,
  RCODE,
} from "./constants.ts";
import {
  COUNT_OFFSET,
  FLAG2,
  FLAG3,
  getHeaderRcode,
  readU16,
  readU32,
  writeU16,
  writeU32,
} from "./header.ts";
import type { Edns, MessageLayout } from "./message.ts";
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
 * An upstream reply made ready for clients: the upstream's OPT record taken
 * out (OPT is hop-by-hop, RFC 6891 §6.1.1), with what it carried that a
 * client may still need: the extended RCODE and any Extended DNS Errors.
 */
export interface Answer {
  /** Header, question and records without the OPT record; ARCOUNT agrees. */
  readonly message: Uint8Array;
  /** Offset just after the question. */
  readonly questionEnd: number;
  /** Upper eight bits of the extended RCODE the upstream sent. */
  readonly extendedRcode: number;
  /** Extended DNS Error options the upstream sent, each as complete option bytes. */
  readonly errors: readonly Uint8Array[];
  /**
   * The DNSSEC validation state when the proxy validates (`--dnssec
   * validate`): the AD bit is then the proxy's own, set only on secure
   * answers to clients that sent DO or AD (RFC 6840 §5.7-5.8). Absent when
   * validation is off: the upstream's AD bit passes through.
   */
  readonly security?: AnswerSecurity | undefined;
  /**
   * For a secure answer: seconds its validation holds (its first signature
   * expires then, or a record's TTL ends). Not cached longer, nor served
   * stale as secure afterwards.
   */
  readonly secureFor?: number | undefined;
}

/** DNSSEC states of an answer; `unchecked`: the client set CD, so it was not validated. */
export type AnswerSecurity = "secure" | "insecure" | "bogus" | "indeterminate" | "unchecked";

/**
 * Takes the upstream's OPT record out of a reply. The reply's own bytes are
 * reused (ARCOUNT is fixed in place): `message` is a view of the reply, to be
 * kept only when the reply is a buffer of its own.
 *
 * Records after a misplaced OPT are additional data and may be dropped;
 * cutting there keeps every compression pointer of the kept part valid.
 *
 * @param reply The upstream reply, already matched to the query.
 * @param layout Its layout.
 * @returns The answer.
 */
export function answerFromReply(reply: Uint8Array, layout: MessageLayout): Answer {
  const opt = layout.edns;
  if (opt === null) {
    const message = reply.subarray(0, layout.end);
    return { message, questionEnd: layout.questionEnd, extendedRcode: 0, errors: [] };
  }
  writeU16(reply, COUNT_OFFSET.AR, readU16(reply, COUNT_OFFSET.AR) - 1 - opt.recordsAfter);
  return {
    message: reply.subarray(0, opt.start),
    questionEnd: layout.questionEnd,
    extendedRcode: opt.extendedRcode,
    errors: extendedErrorOptions(reply, opt),
  };
}

/** How to rewrite the TTLs of an answer served from the cache. */
export interface TtlRewrite {
  /** Offsets of the TTL fields of every record in the answer's message. */
  readonly offsets: readonly number[];
  /** Seconds to subtract from each stored TTL (never going below 0)... */
  readonly elapsed: number;
  /** ...or, when set, the TTL every record gets (30 s for stale answers, RFC 8767 §4). */
  readonly fixed?: number;
}

/** How to build one client's response. */
export interface ResponseOptions {
  /** Largest response the client may get (65535 over TCP). */
  readonly limit: number;
  /** UDP size advertised in the OPT record. */
  readonly maxUdpSize: number;
  /** TTL rewrite for cached answers; none for a fresh upstream reply. */
  readonly ttls?: TtlRewrite;
  /** An Extended DNS Error the proxy adds (e.g. Stale Answer), when the client sent EDNS. */
  readonly error?: ExtendedError;
}

/**
 * Builds a client's response from an answer: the client's ID and question
 * (so its letter case comes back as sent), and the proxy's own OPT record
 * only when the client sent one (RFC 6891 §7), carrying the extended RCODE
 * and the Extended DNS Errors (padding, cookies and keepalive stay on the TLS
 * leg). If the response exceeds `limit`, the client gets the question alone
 * with TC=1 so that it retries over TCP (RFC 1035 §4.2.1, RFC 2181 §9);
 * but not when the limit is already the largest a message can be (TCP),
 * where a retry could get nothing more: the EDNS options go first, then
 * the OPT record (see {@linkcode fitLargest}).
 *
 * @param answer The answer (its question has the same length as the client's).
 * @param query The client's query.
 * @param queryLayout Its layout.
 * @param options Size limit, TTL rewrite and extra error.
 * @returns The response.
 */
export function buildClientResponse(
  answer: Answer,
  query: Uint8Array,
  queryLayout: MessageLayout,
  options: ResponseOptions,
): Uint8Array {
  const { message } = answer;
  const clientEdns = queryLayout.edns;
  let rcode = getHeaderRcode(message);
  if (!clientEdns && answer.extendedRcode !== 0) rcode = RCODE.SERVFAIL; // not expressible without OPT
  const error = options.error;
  const extra = error?.text ? encoder.encode(error.text) : null;
  let optLength = 0;
  if (clientEdns) {
    optLength = OPT_HEADER_LENGTH;
    for (const option of answer.errors) optLength += option.length;
    if (error) optLength += extendedErrorLength(extra ?? EMPTY);
  }
  const length = message.length + optLength;
  if (length > options.limit) {
    if (options.limit >= MAX_MESSAGE_SIZE) return fitLargest(answer, query, queryLayout, options);
    const truncated = buildTruncated(
      message,
      query,
      queryLayout,
      optFields(answer, options, clientEdns),
      rcode,
    );
    // The same AD rule as a full answer: never the upstream's AD when the proxy validates.
    if (answer.security !== undefined) {
      setAuthenticData(truncated, answer.security, query, clientEdns);
    }
    return truncated;
  }
  const response = allocateBytes(length);
  response.set(message);
  response[0] = query[0]!; // ID
  response[1] = query[1]!;
  copyRange(query, HEADER_LENGTH, queryLayout.questionEnd, response, HEADER_LENGTH);
  response[3] = (response[3]! & 0xf0) | rcode;
  if (answer.security !== undefined) setAuthenticData(response, answer.security, query, clientEdns);
  if (options.ttls) rewriteTtls(response, options.ttls);
  if (clientEdns) {
    writeU16(response, COUNT_OFFSET.AR, readU16(response, COUNT_OFFSET.AR) + 1);
    const fields = optFields(answer, options, clientEdns);
    let offset = writeOptHeader(response, message.length, fields, optLength - OPT_HEADER_LENGTH);
    for (const option of answer.errors) {
      response.set(option, offset);
      offset += option.length;
    }
    if (error) writeExtendedError(response, offset, error.code, extra ?? EMPTY);
  }
  return response;
}

const EMPTY = new Uint8Array(0);

/** AD only on secure answers, and only for clients that asked with DO or AD (RFC 6840 §5.8). */
function setAuthenticData(
  response: Uint8Array,
  security: AnswerSecurity,
  query: Uint8Array,
  clientEdns: Edns | null,
): void {
  const asked = (query[3]! & FLAG3.AD) !== 0 || clientEdns?.dnssecOk === true;
  response[3] = security === "secure" && asked ? response[3]! | FLAG3.AD : response[3]! & ~FLAG3.AD;
}

/**
 * The response to an EDNS client when the answer and its OPT record exceed
 * the largest message there is (65,535 octets, the TCP limit): TC=1 would
 * send the client to retry where it already is. The Extended DNS Errors
 * go first (they explain an answer, they are not part of it), then the OPT
 * record itself, as if the client had sent none (an extended RCODE then
 * becomes SERVFAIL). Only should the message alone not fit (it cannot,
 * having come in one message) is the answer SERVFAIL with an EDE.
 */
function fitLargest(
  answer: Answer,
  query: Uint8Array,
  queryLayout: MessageLayout,
  options: ResponseOptions,
): Uint8Array {
  const { limit, maxUdpSize } = options;
  // Not a spread: a cached answer's message is a getter. Without the OPT
  // record the client's DO bit is not seen, so AD may be cleared (never set).
  const { message, questionEnd, extendedRcode, security } = answer;
  const bare: Answer = { message, questionEnd, extendedRcode, errors: NO_OPTIONS, security };
  const plain = { limit, maxUdpSize, ...(options.ttls && { ttls: options.ttls }) };
  const length = message.length;
  if (length + OPT_HEADER_LENGTH <= limit) {
    return buildClientResponse(bare, query, queryLayout, plain);
  }
  if (length <= limit) {
    return buildClientResponse(bare, query, { ...queryLayout, edns: null }, plain);
  }
  return buildErrorResponse(query, queryLayout, RCODE.SERVFAIL, maxUdpSize, {
    code: EDE_CODE.OTHER,
    text: "answer too large",
  });
}

const NO_OPTIONS: readonly Uint8Array[] = Object.freeze([]);

/** The fields of the OPT record the proxy writes to a client. */
function optFields(answer: Answer, options: ResponseOptions, clientEdns: Edns | null): OptFields {
  return {
    udpSize: options.maxUdpSize,
    extendedRcode: answer.extendedRcode,
    dnssecOk: clientEdns?.dnssecOk ?? false,
  };
}

function rewriteTtls(response: Uint8Array, ttls: TtlRewrite): void {
  for (const offset of ttls.offsets) {
    const ttl = ttls.fixed ?? Math.max(readU32(response, offset) - ttls.elapsed, 0);
    writeU32(response, offset, ttl);
  }
}

function buildTruncated(
  message: Uint8Array,
  query: Uint8Array,
  queryLayout: MessageLayout,
  fields: OptFields,
  rcode: number,
): Uint8Array {
  const questionEnd = queryLayout.questionEnd;
  const withOpt = queryLayout.edns !== null;
  const response = new Uint8Array(questionEnd + (withOpt ? OPT_HEADER_LENGTH : 0));
  response.set(query.subarray(0, questionEnd));
  response[2] = message[2]! | FLAG2.TC;
  response[3] = (message[3]! & 0xf0) | rcode;
  writeU16(response, COUNT_OFFSET.QD, 1);
  writeU16(response, COUNT_OFFSET.AN, 0);
  writeU16(response, COUNT_OFFSET.NS, 0);
  writeU16(response, COUNT_OFFSET.AR, withOpt ? 1 : 0);
  if (withOpt) writeOptHeader(response, questionEnd, fields, 0);
  return response;
}

/** The Extended DNS Error options of an OPT record, each copied as complete option bytes. */
function extendedErrorOptions(message: Uint8Array, edns: Edns): Uint8Array[] {
  const found: Uint8Array[] = [];
  forEachOption(message, edns.optionsStart, edns.end, (code, dataOffset, dataLength) => {
    if (code === EDNS_OPTION.EXTENDED_ERROR) {
      found.push(message.slice(dataOffset - 4, dataOffset + dataLength));
    }
  });
  return found;
}
