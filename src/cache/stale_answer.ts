/**
 * How a cached answer is served once it has expired (RFC 8767): TTL 30,
 * an Extended DNS Error saying it is stale, and its secure state only while
 * its validation holds. Also the TTL offsets of a cached answer, which a
 * fresh hit rewrites too, and the SERVFAIL test the serve-stale decisions use.
 *
 * @module
 */

import { EDE_CODE, RCODE } from "../wire/constants.ts";
import { getHeaderRcode } from "../wire/header.ts";
import { walkRecords } from "../wire/message.ts";
import type { Answer } from "../wire/responses.ts";
import type { CachedAnswer } from "./answer_cache.ts";
import type { Resolution } from "./resolution.ts";

/** TTL of stale answers (RFC 8767 §4 recommends 30 s). */
export const STALE_TTL = 30;

/**
 * The resolution that serves an expired entry stale.
 *
 * @param entry The expired entry.
 * @param now When the query arrived (`performance.now()`).
 * @returns The stale answer, with its TTL rewrite and Extended DNS Error.
 */
export function staleAnswer(entry: CachedAnswer, now: number): Resolution {
  const nxdomain = getHeaderRcode(entry.message) === RCODE.NXDOMAIN;
  return {
    answer: staleSecurity(entry, now),
    ttls: { offsets: ttlOffsets(entry), elapsed: 0, fixed: STALE_TTL },
    error: { code: nxdomain ? EDE_CODE.STALE_NXDOMAIN_ANSWER : EDE_CODE.STALE_ANSWER },
    source: "stale",
  };
}

/**
 * The TTL offsets of an entry, found on its first hit and kept.
 *
 * @param entry A cached answer.
 * @returns The offsets of its records' TTL fields.
 */
export function ttlOffsets(entry: CachedAnswer): readonly number[] {
  if (entry.offsets === null) {
    const offsets: number[] = [];
    walkRecords(entry.message, entry.questionEnd, (record) => offsets.push(record.ttlOffset));
    entry.offsets = offsets;
  }
  return entry.offsets;
}

/**
 * Whether an answer is a SERVFAIL: a failed refresh, or one that must not
 * push out an answer that can still be served stale.
 *
 * @param answer An answer.
 * @returns Whether its RCODE is SERVFAIL.
 */
export function isServfail(answer: Answer): boolean {
  return getHeaderRcode(answer.message) === RCODE.SERVFAIL;
}

/**
 * A stale answer keeps its secure state only while its validation holds
 * (no signature has expired): past that it is served unchecked, AD=0.
 */
function staleSecurity(entry: CachedAnswer, now: number): Answer {
  if (entry.security !== "secure") return entry;
  if (entry.secureFor !== undefined && now < entry.storedAt + entry.secureFor * 1000) return entry;
  // Not a spread: a cached answer's message is a getter.
  const { message, questionEnd, extendedRcode, errors } = entry;
  return { message, questionEnd, extendedRcode, errors, security: "unchecked" };
}
