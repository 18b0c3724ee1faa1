/**
 * Trust anchors: the root zone's KSKs built in (as DS records, from IANA's
 * root-anchors.xml: KSK-2017 tag 20326 and KSK-2024 tag 38696), and DS or
 * DNSKEY lines in zone-file syntax read from `--trust-anchor-file` for
 * private roots and islands of trust.
 *
 * @module
 */

import { writeU16 } from "../wire/header.ts";
import { type DnsKey, type Ds, parseDnsKey, parseDs } from "./keys.ts";
import { isSubdomain, type Name, nameFromText, nameKey } from "./names.ts";
import { type NegativeAnchor, NegativeAnchorTable } from "./negative_anchors.ts";

/** The anchors of one zone: DS records, DNSKEY records, or both. */
export interface TrustAnchor {
  readonly zone: Name;
  readonly ds: readonly Ds[];
  readonly keys: readonly DnsKey[];
}

/** The root KSK DS records (IANA, https://data.iana.org/root-anchors/root-anchors.xml). */
export const ROOT_ANCHOR_TEXT = `
. IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D
. IN DS 38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16
`;

/**
 * A set of trust anchors, looked up by the closest enclosing zone, and the
 * negative trust anchors (RFC 7646) that make zones insecure.
 */
export class TrustAnchors {
  readonly #byZone = new Map<string, TrustAnchor>();
  readonly #negative: NegativeAnchorTable;

  /**
   * @param anchors The anchors (several for one zone are merged).
   * @param negative Zones treated as insecure unless an anchor is at or below them.
   */
  constructor(anchors: readonly TrustAnchor[], negative: readonly NegativeAnchor[] = []) {
    this.#negative = new NegativeAnchorTable(negative);
    for (const anchor of anchors) {
      const key = nameKey(anchor.zone);
      const known = this.#byZone.get(key);
      this.#byZone.set(
        key,
        known === undefined ? anchor : {
          zone: anchor.zone,
          ds: [...known.ds, ...anchor.ds],
          keys: [...known.keys, ...anchor.keys],
        },
      );
    }
  }

  /** Every anchor. */
  get all(): TrustAnchor[] {
    return [...this.#byZone.values()];
  }

  /**
   * The anchor of the closest zone at or above `name`.
   *
   * @param name A name.
   * @returns The anchor, or undefined when none covers the name.
   */
  closest(name: Name): TrustAnchor | undefined {
    const key = nameKey(name);
    for (let at = 0; at < key.length;) {
      const anchor = this.#byZone.get(at === 0 ? key : key.slice(at));
      if (anchor !== undefined) return anchor;
      const length = key.charCodeAt(at);
      if (length === 0) break;
      at += length + 1;
    }
    return undefined;
  }

  /**
   * The negative trust anchor in effect for `name`: the closest one at or
   * above it, unless a trust anchor is at or below that one and covers the
   * name (as Unbound's `domain-insecure:` yields to a trust anchor).
   *
   * @param name A name, or its key ({@linkcode nameKey}: the form of the
   *   cache key's name, so that the hot path need not decode the reply).
   * @returns The negative anchor, or undefined when the name is validated.
   */
  insecure(name: Name | string): NegativeAnchor | undefined {
    return this.#negative.find(typeof name === "string" ? name : nameKey(name), this.#byZone);
  }

  /** Whether some anchor is at or below `zone` (it covers part of that zone). */
  hasAnchorWithin(zone: Name): boolean {
    return this.all.some((anchor) => isSubdomain(anchor.zone, zone));
  }
}

/**
 * Parses trust anchors in zone-file syntax: `owner [TTL] [class] DS tag
 * algorithm digest-type hex` or `owner [TTL] [class] DNSKEY flags protocol
 * algorithm base64`, with `;` comments and `( )` spanning lines. Other
 * record types and `$` directives are ignored.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTrustAnchors, ROOT_ANCHOR_TEXT } from "./trust_anchors.ts";
 *
 * const anchors = parseTrustAnchors(ROOT_ANCHOR_TEXT);
 * assert.deepEqual(anchors[0]!.ds.map((ds) => ds.keyTag), [20326, 38696]);
 * ```
 *
 * @param text The file's contents.
 * @returns One anchor per zone.
 * @throws {SyntaxError} On a DS or DNSKEY line that cannot be read (with its line number).
 */
export function parseTrustAnchors(text: string): TrustAnchor[] {
  const byZone = new Map<string, { zone: Name; ds: Ds[]; keys: DnsKey[] }>();
  for (const { tokens, line } of logicalLines(text)) {
    if (tokens.length === 0 || tokens[0]!.startsWith("$")) continue;
    const typeAt = tokens.findIndex((token, i) => i > 0 && /^(DS|DNSKEY)$/i.test(token));
    if (typeAt < 0) continue;
    const fail = (why: string) =>
      new SyntaxError(`Cannot read trust anchor on line ${line}: ${why}`);
    let zone: Name;
    try {
      zone = nameFromText(tokens[0]!);
    } catch (error) {
      throw fail((error as Error).message);
    }
    const entry = byZone.get(nameKey(zone)) ?? { zone, ds: [], keys: [] };
    byZone.set(nameKey(zone), entry);
    const fields = tokens.slice(typeAt + 1);
    if (tokens[typeAt]!.toUpperCase() === "DS") {
      const [tag, algorithm, digestType, ...hex] = fields;
      const digest = hex.join("");
      if (!/^[0-9a-fA-F]+$/.test(digest) || digest.length % 2 !== 0) throw fail("bad digest");
      entry.ds.push(parseDs(rdata([u16(tag), u8(algorithm), u8(digestType)], fromHex(digest)))!);
    } else {
      const [flags, protocol, algorithm, ...base64] = fields;
      let key: Uint8Array;
      try {
        key = Uint8Array.from(atob(base64.join("")), (c) => c.charCodeAt(0));
      } catch {
        throw fail("bad base64 key");
      }
      entry.keys.push(parseDnsKey(rdata([u16(flags), u8(protocol), u8(algorithm)], key))!);
    }
    if ([...entry.ds, ...entry.keys].some((x) => x === null)) throw fail("bad record");
  }
  return [...byZone.values()];

  function u8(token: string | undefined): Uint8Array {
    const value = Number(token);
    if (!Number.isInteger(value) || value < 0 || value > 255) {
      throw new SyntaxError(`Cannot read trust anchor: bad number ${token}`);
    }
    return new Uint8Array([value]);
  }
  function u16(token: string | undefined): Uint8Array {
    const value = Number(token);
    if (!Number.isInteger(value) || value < 0 || value > 65535) {
      throw new SyntaxError(`Cannot read trust anchor: bad number ${token}`);
    }
    const out = new Uint8Array(2);
    writeU16(out, 0, value);
    return out;
  }
}

function rdata(fixed: Uint8Array[], rest: Uint8Array): Uint8Array {
  const parts = [...fixed, rest];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Splits zone-file text into records: comments removed, parentheses joined. */
function* logicalLines(text: string): Generator<{ tokens: string[]; line: number }> {
  let tokens: string[] = [];
  let depth = 0;
  let start = 1;
  const lines = text.split("\n");
  for (const [index, raw] of lines.entries()) {
    if (depth === 0) start = index + 1;
    const content = raw.replace(/;.*$/, "");
    for (const token of content.replace(/([()])/g, " $1 ").split(/\s+/)) {
      if (token === "(") depth++;
      else if (token === ")") depth = Math.max(0, depth - 1);
      else if (token !== "") tokens.push(token);
    }
    if (depth === 0) {
      yield { tokens, line: start };
      tokens = [];
    }
  }
  if (tokens.length > 0) yield { tokens, line: start };
}
