/**
 * Which clients may use the proxy. The default admits only the loopback,
 * RFC 1918, link-local and unique-local ranges, as dnsdist's default ACL
 * does, so that listening on `0.0.0.0` never makes an open resolver by
 * accident (open resolvers are used for reflection attacks, RFC 5358).
 *
 * @module
 */

import { type Cidr, parseCidr } from "./cidr.ts";
import type { IpAddress } from "./ip_address.ts";

/**
 * Ranges admitted by default: loopback (RFC 1122 §3.2.1.3, RFC 4291), private
 * (RFC 1918), link-local (RFC 3927, RFC 4291) and unique local (RFC 4193).
 */
export const DEFAULT_ALLOW: readonly string[] = [
  "127.0.0.0/8",
  "::1/128",
  "10.0.0.0/8",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "169.254.0.0/16",
  "fe80::/10",
  "fc00::/7",
];

/**
 * A list of address ranges, checked on every datagram: the ranges are split
 * by family up front, so a check is a few word comparisons and no allocation.
 * IPv4 clients (including IPv4-mapped IPv6 ones) are matched against IPv4
 * ranges only, and IPv6 clients against IPv6 ranges only.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { AccessList } from "./access_list.ts";
 * import { parseIp } from "./ip_address.ts";
 *
 * const list = AccessList.fromText(["127.0.0.1/32", "2001:db8::/32"]);
 * assert(list.allows(parseIp("127.0.0.1")!));
 * assert(list.allows(parseIp("::ffff:127.0.0.1")!));
 * assert(!list.allows(parseIp("127.0.0.2")!));
 * assert(list.allows(parseIp("2001:db8:1::5")!));
 * ```
 */
export class AccessList {
  /** IPv4 ranges: the network (last word) and its mask. */
  readonly #v4: { readonly network: number; readonly mask: number }[] = [];
  /** IPv6 ranges. */
  readonly #v6: Cidr[] = [];
  /** The ranges as given, for logs. */
  readonly ranges: readonly Cidr[];

  /**
   * Builds a list from parsed ranges.
   *
   * @param ranges The admitted ranges; an empty list admits nobody.
   */
  constructor(ranges: readonly Cidr[]) {
    this.ranges = ranges;
    for (const range of ranges) {
      if (range.family === 4) this.#v4.push({ network: range.network.w3, mask: range.masks[3] });
      else this.#v6.push(range);
    }
  }

  /**
   * Builds a list from ranges in text.
   *
   * @param ranges Ranges such as `10.0.0.0/8`.
   * @returns The list.
   * @throws {SyntaxError} When a range cannot be parsed.
   */
  static fromText(ranges: readonly string[]): AccessList {
    return new AccessList(ranges.map(parseCidr));
  }

  /**
   * Whether a client is admitted.
   *
   * @param address The client's address.
   * @returns True when a range holds it.
   */
  allows(address: IpAddress): boolean {
    if (address.family === 4) {
      const w3 = address.w3;
      for (const range of this.#v4) {
        if (((w3 & range.mask) >>> 0) === range.network) return true;
      }
      return false;
    }
    for (const range of this.#v6) {
      const [m0, m1, m2, m3] = range.masks;
      const network = range.network;
      if (
        ((address.w0 & m0) >>> 0) === network.w0 && ((address.w1 & m1) >>> 0) === network.w1 &&
        ((address.w2 & m2) >>> 0) === network.w2 && ((address.w3 & m3) >>> 0) === network.w3
      ) {
        return true;
      }
    }
    return false;
  }
}
