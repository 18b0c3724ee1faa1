/**
 * Accepting a reply only if it answers the query that was sent (RFC 5452 §3,
 * RFC 7858 §3.3): it is a response, and its question has the same name
 * (ignoring letter case), type and class. The ID was matched by the caller.
 *
 * @module
 */

import { HEADER_LENGTH, RCODE } from "./constants.ts";
import { getHeaderRcode, isResponse } from "./header.ts";
import type { MessageLayout } from "./message.ts";
import { namesEqual } from "./name.ts";

/**
 * Says why a reply does not answer a query, or returns null when it does.
 *
 * The question must also be exactly as long as the one sent, which it always
 * is for a genuine reply (the first name of a message cannot be compressed),
 * so that the client's question can be put back in place byte for byte.
 *
 * @param reply The reply.
 * @param replyLayout Its layout.
 * @param query The query that was sent (with exactly one question).
 * @param queryLayout Its layout.
 * @param queryStart Where the query starts in `query` (e.g. after a length
 * prefix): its name, the first of the message, holds no pointer to resolve.
 * @returns A short reason, or null when the reply matches.
 */
export function replyMismatch(
  reply: Uint8Array,
  replyLayout: MessageLayout,
  query: Uint8Array,
  queryLayout: MessageLayout,
  queryStart = 0,
): string | null {
  if (!isResponse(reply)) return "QR bit not set";
  if (replyLayout.questionCount !== 1) return "no question";
  if (
    replyLayout.qtype !== queryLayout.qtype || replyLayout.qclass !== queryLayout.qclass ||
    replyLayout.questionEnd !== queryLayout.questionEnd ||
    !namesEqual(reply, HEADER_LENGTH, query, queryStart + HEADER_LENGTH)
  ) {
    return "question differs from the query";
  }
  return null;
}

/**
 * Whether a reply is the upstream rejecting the question a client wrote: no
 * question (RFC 1035 allows QDCOUNT=0 there) and FORMERR, NOTIMP or REFUSED.
 * It fails that query, but says nothing against the upstream's health: a
 * client must not be able to take an upstream down with odd questions.
 *
 * @param reply A reply whose ID matched.
 * @param layout Its layout.
 * @returns True for such a rejection.
 */
export function isQuestionRejection(reply: Uint8Array, layout: MessageLayout): boolean {
  const rcode = getHeaderRcode(reply);
  return layout.questionCount === 0 &&
    (rcode === RCODE.FORMERR || rcode === RCODE.NOTIMP || rcode === RCODE.REFUSED);
}
