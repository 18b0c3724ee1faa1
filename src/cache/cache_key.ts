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

/** Characters after the name: QTYPE and QCLASS (two each), then the bits. */
const SUFFIX_LENGTH = 5;

const scratch = new Uint8Array(MAX_NAME_LENGTH + SUFFIX_LENGTH);
/** Views of the scratch by length, made once: `fromCharCode` needs one per key. */
const views: Uint8Array[] = [];

/**
 * Computes the cache key of a query: its name in lower case and wire form,
 * then QTYPE, QCLASS and the DO, CD and RD bits, one character per octet.
 *
 * Built in one pass into one flat string, since every key of a cached
 * answer outlives the young generation: a name key joined to its suffix
 * made a cons string, which the cache's Map flattened into a fourth string
 * on the first lookup, and each of them was promoted.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { cacheKey, keyName } from "./cache_key.ts";
 * import { parseMessage } from "../wire/message.ts";
 *
 * const upper = new Uint8Array([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 65, 0, 0, 1, 0, 1]);
 * const lower = new Uint8Array([0, 2, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 97, 0, 0, 1, 0, 1]);
 * const key = (query: Uint8Array) => cacheKey(query, parseMessage(query));
 * assert.equal(key(upper), key(lower));
 * assert.equal(keyName(key(upper)), "\u0001a\u0000");
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
  const view = views[end] ??= scratch.subarray(0, end);
  return String.fromCharCode.apply(null, view as unknown as number[]);
}

/**
 * The name key a cache key starts with: the name in lower case and wire
 * form, one character per octet, as the zone table takes it.
 *
 * @param key A key from {@linkcode cacheKey}.
 * @returns Its name key.
 */
export function keyName(key: string): string {
  return key.slice(0, -SUFFIX_LENGTH);
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

/**
 * Whether a key is for queries with the CD bit set.
 *
 * @param key A key from {@linkcode cacheKey}.
 * @returns The CD bit.
 */
export function keyCheckingDisabled(key: string): boolean {
  return (key.charCodeAt(key.length - 1) & 2) === 2;
}
