/**
 * Negative trust anchors (RFC 7646): zones whose answers are treated as
 * insecure without walking the chain of trust, as Unbound's
 * `domain-insecure:` and Knot Resolver's `trust_anchors.set_insecure()` do.
 * From `--dnssec-insecure`, plus, while the root's anchor is the built-in
 * IANA one, the special-use names the public root never delegates (RFC 6761
 * `test`, `localhost`, `invalid`; RFC 6762 `local`; RFC 7686 `onion`; RFC
 * 8375 `home.arpa`; RFC 9476 `alt`; ICANN's private-use `internal`; and the
 * RFC 6303 reverse zones of private addresses): a lab or home network that
 * forwards them to its own resolver gets answers, never a SERVFAIL from the
 * root's proof that they do not exist. A positive trust anchor at or below
 * a negative one wins (an island of trust inside it).
 *
 * @module
 */

import { BUILTIN_ZONES } from "../routing/local_zones.ts";
import { type Name, nameFromText, nameKey } from "./names.ts";

/** One zone declared insecure, and why (for logs and the verdict's reason). */
export interface NegativeAnchor {
  readonly zone: Name;
  readonly reason: string;
}

/**
 * Special-use zones treated as insecure under the built-in IANA root
 * anchor: the public root denies or does not sign them, so no answer for
 * them can ever be secure from it. `example` is not here (RFC 6761 §6.5:
 * not special to resolvers).
 */
export const SPECIAL_USE_INSECURE_ZONES: readonly string[] = Object.freeze([
  "test",
  "alt",
  "home.arpa",
  "internal",
  ...BUILTIN_ZONES,
]);

/**
 * The negative anchors of `--dnssec-insecure` zones, and of the special-use
 * zones when `specialUse` is set.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { negativeAnchors } from "./negative_anchors.ts";
 *
 * const anchors = negativeAnchors(["corp.example"], false);
 * assert.equal(anchors.length, 1);
 * assert.match(anchors[0]!.reason, /--dnssec-insecure/);
 * ```
 *
 * @param configured Zones given with `--dnssec-insecure` (text form).
 * @param specialUse Whether to add {@linkcode SPECIAL_USE_INSECURE_ZONES}.
 * @returns The anchors, configured ones first.
 */
export function negativeAnchors(
  configured: readonly string[],
  specialUse: boolean,
): NegativeAnchor[] {
  const anchors = configured.map((zone) => ({
    zone: nameFromText(zone),
    reason: `${zone} is declared insecure (--dnssec-insecure)`,
  }));
  if (!specialUse) return anchors;
  return [
    ...anchors,
    ...SPECIAL_USE_INSECURE_ZONES.map((zone) => ({
      zone: nameFromText(zone),
      reason: `${zone} is a special-use name the root does not delegate (insecure)`,
    })),
  ];
}

/**
 * Finds the negative anchor in effect for a name: the closest one at or
 * above it, unless a positive anchor is at least as close. Names are looked
 * up by their key ({@linkcode nameKey}: lower-case wire form, one character
 * per octet, the form of the cache key's name), each ancestor a substring,
 * so that a lookup allocates nothing but the substrings.
 */
export class NegativeAnchorTable {
  readonly #byZone = new Map<string, NegativeAnchor>();

  /** @param anchors The anchors; the first for a zone wins. */
  constructor(anchors: readonly NegativeAnchor[]) {
    for (const anchor of anchors) {
      const key = nameKey(anchor.zone);
      if (!this.#byZone.has(key)) this.#byZone.set(key, anchor);
    }
  }

  /**
   * The negative anchor covering a name, if no positive anchor overrides it.
   *
   * @param key The name's key.
   * @param positive Keys of the zones with a positive trust anchor.
   * @returns The anchor, or undefined when the name is to be validated.
   */
  find(key: string, positive: ReadonlyMap<string, unknown>): NegativeAnchor | undefined {
    if (this.#byZone.size === 0) return undefined;
    // From the name up to the root; a positive anchor at or below the negative one wins.
    for (let at = 0; at < key.length;) {
      const zone = at === 0 ? key : key.slice(at);
      if (positive.has(zone)) return undefined;
      const negative = this.#byZone.get(zone);
      if (negative !== undefined) return negative;
      const length = key.charCodeAt(at);
      if (length === 0) break;
      at += length + 1;
    }
    return undefined;
  }
}
