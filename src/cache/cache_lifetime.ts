/**
 * How long an answer may be cached (RFC 1035 §3.2.1, RFC 2308, RFC 8767 §4):
 * positive answers for their smallest TTL, negative answers (NXDOMAIN,
 * NODATA) for min(SOA TTL, SOA MINIMUM) and only with a SOA, upstream
 * SERVFAIL for a few seconds, and nothing truncated.
 *
 * @module
 */

import { RCODE, RRTYPE } from "../wire/constants.ts";
import {
  COUNT_OFFSET,
  getHeaderRcode,
  isTruncated,
  readU16,
  readU32,
  writeU32,
} from "../wire/header.ts";
import { SECTION, walkRecords } from "../wire/message.ts";
import type { Answer } from "../wire/responses.ts";

/** Bounds applied to every cached TTL (`--cache-min-ttl`, `--cache-max-ttl`). */
export interface TtlBounds {
  readonly minTtl: number;
  readonly maxTtl: number;
}

/** Upstream SERVFAIL is cached this long (RFC 2308 §7.1 allows up to 5 minutes). */
export const SERVFAIL_TTL = 5;

/**
 * Decides whether and how long an answer may be cached. When it may, each
 * record's TTL is clamped in place into `bounds` and to the answer's own
 * lifetime, so that the message can be served as it is (pass the cache's own
 * copy); an answer that may not be cached is left untouched.
 *
 * @param answer The answer (its message is modified when it may be cached).
 * @param bounds TTL bounds.
 * @returns Seconds the answer stays fresh, or null when it must not be cached.
 */
export function cacheLifetime(answer: Answer, bounds: TtlBounds): number | null {
  const message = answer.message;
  if (isTruncated(message) || answer.extendedRcode !== 0) return null;
  const rcode = getHeaderRcode(message);
  let smallest = Infinity;
  let largest = 0;
  let negative = Infinity;
  let outOfBounds = false;
  walkRecords(message, answer.questionEnd, (record) => {
    const stored = readU32(message, record.ttlOffset);
    const ttl = clamp(stored, bounds);
    if (ttl !== stored) outOfBounds = true;
    smallest = Math.min(smallest, ttl);
    largest = Math.max(largest, ttl);
    if (record.type === RRTYPE.SOA && record.section === SECTION.AUTHORITY) {
      const minimum = readU32(message, record.rdataOffset + record.rdataLength - 4);
      negative = Math.min(negative, ttl, clamp(minimum, bounds)); // RFC 2308 §5
    }
  });
  let ttl: number;
  if (rcode === RCODE.SERVFAIL) {
    ttl = Math.min(SERVFAIL_TTL, bounds.maxTtl);
  } else if (rcode === RCODE.NOERROR && readU16(message, COUNT_OFFSET.AN) > 0) {
    ttl = smallest;
  } else if (rcode === RCODE.NOERROR || rcode === RCODE.NXDOMAIN) {
    // Without a SOA a negative answer must not be cached (RFC 2308 §5).
    if (negative === Infinity) return null;
    ttl = Math.min(negative, smallest);
  } else {
    return null;
  }
  if (!(ttl > 0 && ttl !== Infinity)) return null;
  // Records are served clamped, and none with a TTL longer than the answer
  // stays cached. Most answers need neither (one pass, no writes).
  if (outOfBounds || largest > ttl) {
    walkRecords(message, answer.questionEnd, (record) => {
      const clamped = clamp(readU32(message, record.ttlOffset), bounds);
      writeU32(message, record.ttlOffset, Math.min(clamped, ttl));
    });
  }
  return ttl;
}

function clamp(ttl: number, bounds: TtlBounds): number {
  return Math.min(Math.max(ttl, bounds.minTtl), bounds.maxTtl);
}
