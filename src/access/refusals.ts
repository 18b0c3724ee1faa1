/**
 * The short answers the frontends give without forwarding: REFUSED (access
 * list, rate limit, overload) and an empty TC=1 answer to ANY over UDP.
 * Neither is ever larger than the query it answers, so a flood of queries
 * with forged sources gains no amplification through them (the reflection
 * attacks of RFC 5358).
 *
 * @module
 */

import { HEADER_LENGTH, OPCODE_QUERY, RCODE, RRTYPE } from "../wire/constants.ts";
import { COUNT_OFFSET, FLAG2, getOpcode, isResponse, readU16 } from "../wire/header.ts";
import { type MessageLayout, parseMessage } from "../wire/message.ts";
import { skipName } from "../wire/name.ts";
import { buildErrorResponse } from "../wire/responses.ts";

/**
 * Builds a REFUSED answer: the client's ID and question (when it could be
 * read) and an OPT record only if the client sent one, with no Extended DNS
 * Error text, so the answer is never longer than the query.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildRefused } from "./refusals.ts";
 *
 * const query = new Uint8Array([0, 7, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 97, 0, 0, 1, 0, 1]);
 * const answer = buildRefused(query, 1232)!;
 * assert.equal(answer[3]! & 0x0f, 5);
 * assert(answer.length <= query.length);
 * ```
 *
 * @param query The client's message.
 * @param maxUdpSize UDP size advertised in the OPT record.
 * @returns The answer, or null when the message gets none (shorter than a
 * header, or a response: answering those could start a loop).
 */
export function buildRefused(query: Uint8Array, maxUdpSize: number): Uint8Array | null {
  if (query.length < HEADER_LENGTH || isResponse(query)) return null;
  return fitted(query, tryParse(query), RCODE.REFUSED, maxUdpSize);
}

/**
 * Answers a well-formed ANY query over UDP with TC=1 and no records, so that
 * a real client retries over TCP, where its source address is proven, and a
 * forged one gets nothing bigger than what it sent. RFC 8482 §4 lets a
 * responder give less than everything to ANY; TC over UDP is the rule
 * dnsdist documents for it (`QTypeRule(DNSQType.ANY)` → `TCAction()`).
 *
 * Anything else (another type, a malformed message, an unknown EDNS version)
 * is left to the query handler, which answers it as it would over TCP.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildAnyTruncated } from "./refusals.ts";
 *
 * const any = new Uint8Array([0, 7, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 97, 0, 0, 255, 0, 1]);
 * assert.equal(buildAnyTruncated(any, 1232)![2]! & 0x02, 0x02);
 * any[16] = 1; // type A
 * assert.equal(buildAnyTruncated(any, 1232), null);
 * ```
 *
 * @param query The client's message, as received over UDP.
 * @param maxUdpSize UDP size advertised in the OPT record.
 * @returns The TC=1 answer, or null when the query is not a well-formed ANY query.
 */
export function buildAnyTruncated(query: Uint8Array, maxUdpSize: number): Uint8Array | null {
  if (query.length < HEADER_LENGTH || readU16(query, COUNT_OFFSET.QD) !== 1) return null;
  if (isResponse(query) || getOpcode(query) !== OPCODE_QUERY) return null;
  // Cheap test first: only the question's type, without walking the records.
  let nameEnd: number;
  try {
    nameEnd = skipName(query, HEADER_LENGTH);
  } catch {
    return null; // malformed: the handler answers FORMERR
  }
  if (nameEnd + 4 > query.length || readU16(query, nameEnd) !== RRTYPE.ANY) return null;
  const layout = tryParse(query);
  if (layout === null || (layout.edns !== null && layout.edns.version !== 0)) return null;
  const answer = fitted(query, layout, RCODE.NOERROR, maxUdpSize);
  answer[2] = answer[2]! | FLAG2.TC;
  return answer;
}

/** The layout of `query`, or null when it is malformed (the answer then echoes only the header). */
function tryParse(query: Uint8Array): MessageLayout | null {
  try {
    return parseMessage(query);
  } catch {
    return null; // malformed: answered with the header alone
  }
}

/** An error answer no longer than the query. */
function fitted(
  query: Uint8Array,
  layout: MessageLayout | null,
  rcode: number,
  maxUdpSize: number,
): Uint8Array {
  const answer = buildErrorResponse(query, layout, rcode, maxUdpSize);
  // Question + OPT header never exceed a query that holds both; the header
  // alone is the fallback should that ever change.
  return answer.length <= query.length
    ? answer
    : buildErrorResponse(query, null, rcode, maxUdpSize);
}
