/**
 * The key under which an answer is cached and identical queries are
 * coalesced: the question name in lower case, QTYPE, QCLASS, and the header
 * and EDNS bits that change what an upstream answers (DO and CD, so that
 * DNSSEC-aware clients never get an answer meant for others, and RD).
 *
 * @module
 */

import { HEADER_LENGTH, MAX_NAME_LENGTH } from "../wire/constants.ts";
import { FLAG2, FLAG3 } from "../wire/header.ts";
import type { MessageLayout } from "../wire/message.ts";
import { writeCanonicalName } from "../wire/name.ts";

const scratch = new Uint8Array(MAX_NAME_LENGTH + 5);

/**
 * Computes the cache key of a query.
 *
 * The key is a string only because Map needs one; it is built from the
 * bytes in one pass, one character per octet, without decoding the name.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { cacheKey } from "./cache_key.ts";
 * import { parseMessage } from "../wire/message.ts";
 *
 * const upper = new Uint8Array([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 65, 0, 0, 1, 0, 1]);
 * const lower = new Uint8Array([0, 2, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 97, 0, 0, 1, 0, 1]);
 * assert.equal(cacheKey(upper, parseMessage(upper)), cacheKey(lower, parseMessage(lower)));
 * ```
 *
 * @param query A query with exactly one question.
 * @param layout Its layout.
 * @returns The key.
 */
export function cacheKey(query: Uint8Array, layout: MessageLayout): string {
  let end = writeCanonicalName(query, HEADER_LENGTH, scratch, 0);
  scratch[end++] = layout.qtype >>> 8;
  scratch[end++] = layout.qtype & 0xff;
  scratch[end++] = layout.qclass >>> 8;
  scratch[end++] = layout.qclass & 0xff;
  scratch[end++] = (layout.edns?.dnssecOk ? 1 : 0) | (query[3]! & FLAG3.CD ? 2 : 0) |
    (query[2]! & FLAG2.RD ? 4 : 0);
  return String.fromCharCode.apply(null, scratch.subarray(0, end) as unknown as number[]);
}

/**
 * Whether a key is for queries with the DO bit set.
 *
 * @param key A key from {@linkcode cacheKey}.
 * @returns The DO bit.
 */
export function keyDnssecOk(key: string): boolean {
  return (key.charCodeAt(key.length - 1) & 1) === 1;
}
