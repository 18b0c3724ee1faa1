/**
 * The query kept with a cached answer so that it can be fetched again
 * without a client (prefetch, stale refresh): the client's header and
 * question, and an OPT record only to carry the DO bit.
 *
 * @module
 */

import { COUNT_OFFSET, writeU16 } from "../wire/header.ts";
import { type MessageLayout, parseMessage } from "../wire/message.ts";
import { OPT_HEADER_LENGTH, writeOptHeader } from "../wire/edns.ts";

/**
 * Builds a standalone copy of a client's query for later refreshes.
 *
 * @param query The client's query.
 * @param layout Its layout.
 * @returns The copy and its layout.
 */
export function refreshQuery(
  query: Uint8Array,
  layout: MessageLayout,
): { query: Uint8Array; layout: MessageLayout } {
  const dnssecOk = layout.edns?.dnssecOk ?? false;
  const copy = new Uint8Array(layout.questionEnd + (dnssecOk ? OPT_HEADER_LENGTH : 0));
  copy.set(query.subarray(0, layout.questionEnd));
  writeU16(copy, COUNT_OFFSET.AN, 0);
  writeU16(copy, COUNT_OFFSET.NS, 0);
  writeU16(copy, COUNT_OFFSET.AR, dnssecOk ? 1 : 0);
  if (dnssecOk) {
    writeOptHeader(copy, layout.questionEnd, { udpSize: 1232, extendedRcode: 0, dnssecOk }, 0);
  }
  return { query: copy, layout: parseMessage(copy) };
}
