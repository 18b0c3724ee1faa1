/**
 * The key under which an answer is cached and identical queries are
 * coalesced: the question name in lower case, QTYPE, QCLASS, and the header
 * and EDNS bits that change what an upstream answers (DO and CD, so that
 * DNSSEC-aware clients never get an answer meant for others, and RD).
 *
 * @module
 */

import { FLAG2, FLAG3 } from "../wire/header.ts";
import type { MessageLayout } from "../wire/message.ts";

/**
 * Computes the cache key of a query from its name key (see
 * `canonicalNameKey`, computed once per query for routing too): the name,
 * then QTYPE, QCLASS and the DO, CD and RD bits, one character per octet.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { cacheKey } from "./cache_key.ts";
 * import { parseMessage } from "../wire/message.ts";
 * import { canonicalNameKey } from "../wire/name.ts";
 *
 * const upper = new Uint8Array([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 65, 0, 0, 1, 0, 1]);
 * const lower = new Uint8Array([0, 2, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 97, 0, 0, 1, 0, 1]);
 * const key = (query: Uint8Array) =>
 *   cacheKey(canonicalNameKey(query, 12), query, parseMessage(query));
 * assert.equal(key(upper), key(lower));
 * ```
 *
 * @param name The query's name key.
 * @param query A query with exactly one question.
 * @param layout Its layout.
 * @returns The key.
 */
export function cacheKey(name: string, query: Uint8Array, layout: MessageLayout): string {
  const bits = (layout.edns?.dnssecOk ? 1 : 0) | (query[3]! & FLAG3.CD ? 2 : 0) |
    (query[2]! & FLAG2.RD ? 4 : 0);
  return name + String.fromCharCode(
    layout.qtype >>> 8,
    layout.qtype & 0xff,
    layout.qclass >>> 8,
    layout.qclass & 0xff,
    bits,
  );
}

/**
 * The name key a cache key starts with.
 *
 * @param key A key from {@linkcode cacheKey}.
 * @returns Its name key.
 */
export function keyName(key: string): string {
  return key.slice(0, -5);
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
