/**
 * The query that fetches a cached answer again without a client (prefetch,
 * stale refresh), rebuilt from the answer itself: its header bits RD and CD
 * (echoed by the upstream) and its question, plus an OPT record only to carry
 * the DO bit. Nothing extra is kept per cache entry for it.
 *
 * @module
 */

import { COUNT_OFFSET, FLAG2, FLAG3, writeU16 } from "../wire/header.ts";
import { type MessageLayout, parseMessage } from "../wire/message.ts";
import { OPT_HEADER_LENGTH, writeOptHeader } from "../wire/edns.ts";
import type { Answer } from "../wire/responses.ts";

/**
 * Builds a query for a cached answer.
 *
 * @param answer The cached answer.
 * @param dnssecOk Whether the entry is for queries with the DO bit.
 * @returns The query and its layout.
 */
export function refreshQuery(
  answer: Answer,
  dnssecOk: boolean,
): { query: Uint8Array; layout: MessageLayout } {
  const { message, questionEnd } = answer;
  const query = new Uint8Array(questionEnd + (dnssecOk ? OPT_HEADER_LENGTH : 0));
  query.set(message.subarray(0, questionEnd));
  query[2] = message[2]! & FLAG2.RD;
  query[3] = message[3]! & FLAG3.CD;
  writeU16(query, COUNT_OFFSET.AN, 0);
  writeU16(query, COUNT_OFFSET.NS, 0);
  writeU16(query, COUNT_OFFSET.AR, dnssecOk ? 1 : 0);
  if (dnssecOk) {
    writeOptHeader(query, questionEnd, { udpSize: 1232, extendedRcode: 0, dnssecOk }, 0);
  }
  return { query, layout: parseMessage(query) };
}
