/**
 * Address ranges in CIDR notation (RFC 4632 §3.1, RFC 4291 §2.3), parsed
 * into the words and masks that {@linkcode AccessList} compares.
 *
 * @module
 */

import { type IpAddress, parseIp, wordMask } from "./ip_address.ts";

/** A parsed range such as `10.0.0.0/8` or `fc00::/7`. */
export interface Cidr {
  /** The range as written back in canonical form, e.g. `10.0.0.0/8`. */
  readonly text: string;
  /** 4 for an IPv4 range (also when written as `::ffff:a.b.c.d/N`, N ≥ 96), else 6. */
  readonly family: 4 | 6;
  /** Prefix length within the family: 0..32 for IPv4, 0..128 for IPv6. */
  readonly prefix: number;
  /** The network address. */
  readonly network: IpAddress;
  /** Masks of the four words over the 128-bit form. */
  readonly masks: readonly [number, number, number, number];
}

/**
 * Parses a range in CIDR notation; a bare address is a range of one address.
 * Bits set beyond the prefix are refused rather than cleared, since they
 * usually mean a typo (`10.1.0.0/8`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseCidr } from "./cidr.ts";
 *
 * assert.equal(parseCidr("192.168.0.0/16").text, "192.168.0.0/16");
 * assert.equal(parseCidr("::ffff:10.0.0.0/104").text, "10.0.0.0/8");
 * assert.equal(parseCidr("2001:db8::1").prefix, 128);
 * assert.throws(() => parseCidr("10.1.0.0/8"), SyntaxError);
 * ```
 *
 * @param text The range, e.g. `127.0.0.0/8`, `::1/128` or `192.0.2.7`.
 * @returns The range.
 * @throws {SyntaxError} When `text` is not an address with an optional valid
 * prefix length, or sets bits beyond the prefix; the message gives the reason alone.
 */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf("/");
  const address = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (address === null || text.includes("%")) {
    throw new SyntaxError("expected an IPv4 or IPv6 address with an optional /PREFIX");
  }
  const written6 = text.slice(0, slash < 0 ? text.length : slash).includes(":");
  const maxPrefix = written6 ? 128 : 32;
  let prefix = maxPrefix;
  if (slash >= 0) {
    const raw = text.slice(slash + 1);
    prefix = /^(0|[1-9][0-9]{0,2})$/.test(raw) ? Number(raw) : NaN;
    if (!(prefix <= maxPrefix)) {
      throw new SyntaxError(`expected a prefix length from 0 to ${maxPrefix}`);
    }
  }
  // Over the 128-bit form, an IPv4 prefix of N bits is N + 96 bits long.
  const bits = written6 ? prefix : prefix + 96;
  const family = address.family === 4 && bits >= 96 ? 4 : 6;
  const masks = [0, 1, 2, 3].map((index) => wordMask(bits, index)) as [
    number,
    number,
    number,
    number,
  ];
  const words = [address.w0, address.w1, address.w2, address.w3];
  if (words.some((word, index) => ((word & masks[index]!) >>> 0) !== word)) {
    throw new SyntaxError(`bits are set beyond the /${prefix} prefix`);
  }
  const familyPrefix = family === 4 ? bits - 96 : bits;
  return {
    text: `${formatAddress(address, family)}/${familyPrefix}`,
    family,
    prefix: familyPrefix,
    network: address,
    masks,
  };
}

/**
 * Writes an address in text: dotted quad for IPv4, RFC 5952 form for IPv6
 * (lower case, the longest run of two or more zero groups as `::`).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatAddress } from "./cidr.ts";
 * import { parseIp } from "./ip_address.ts";
 *
 * assert.equal(formatAddress(parseIp("2001:DB8:0:0:0:0:0:1")!, 6), "2001:db8::1");
 * ```
 *
 * @param address The address.
 * @param family How to write it (an IPv4 address may be written as IPv6 `::ffff:…`).
 * @returns The text.
 */
export function formatAddress(address: IpAddress, family: 4 | 6): string {
  const { w0, w1, w2, w3 } = address;
  if (family === 4) return [w3 >>> 24, (w3 >>> 16) & 0xff, (w3 >>> 8) & 0xff, w3 & 0xff].join(".");
  const groups = [w0, w1, w2, w3].flatMap((word) => [word >>> 16, word & 0xffff]);
  let bestStart = -1;
  let bestLength = 1; // RFC 5952 §4.2.2: a single zero group is not shortened
  for (let start = 0; start < 8;) {
    let length = 0;
    while (start + length < 8 && groups[start + length] === 0) length++;
    if (length > bestLength) [bestStart, bestLength] = [start, length];
    start += Math.max(length, 1);
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(":");
  const head = hex.slice(0, bestStart).join(":");
  const tail = hex.slice(bestStart + bestLength).join(":");
  return `${head}::${tail}`;
}
