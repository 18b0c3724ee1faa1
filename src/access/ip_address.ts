/**
 * Client addresses as numbers, parsed once per datagram or connection from
 * the text Deno reports (`Deno.NetAddr.hostname`), so that access lists and
 * rate limits compare words instead of strings.
 *
 * IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2), which a
 * socket bound to `::` reports for IPv4 clients, are IPv4 addresses here: an
 * IPv4 client is the same client whichever socket it reached.
 *
 * @module
 */

/**
 * An IP address as the four big-endian 32-bit words of its 128-bit IPv6 form.
 * An IPv4 address `a.b.c.d` is held as `::ffff:a.b.c.d`, so `w3` is the
 * IPv4 address itself.
 */
export interface IpAddress {
  /** 4 for IPv4 (including IPv4-mapped IPv6), 6 otherwise. */
  readonly family: 4 | 6;
  /** Bits 0-31 (the most significant). */
  readonly w0: number;
  /** Bits 32-63. */
  readonly w1: number;
  /** Bits 64-95 (0xffff for IPv4). */
  readonly w2: number;
  /** Bits 96-127 (the IPv4 address itself for IPv4). */
  readonly w3: number;
}

/** Key of a client for per-client limits: a number for IPv4, a string for IPv6. */
export type ClientKey = number | string;

/** The 16-bit groups of the IPv6 address being parsed; parsing is synchronous, so one suffices. */
const groups = new Uint16Array(8);

/**
 * Parses an IPv4 or IPv6 address in text form. A zone (`fe80::1%eth0`) is
 * ignored. IPv4 parts must be decimal without leading zeros, as
 * `node:net` `isIP` requires, so that `010.0.0.1` cannot mean two things.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseIp } from "./ip_address.ts";
 *
 * assert.equal(parseIp("192.0.2.1")?.w3, 0xc0000201);
 * assert.equal(parseIp("::ffff:192.0.2.1")?.family, 4);
 * assert.equal(parseIp("2001:db8::1")?.w0, 0x20010db8);
 * assert.equal(parseIp("example.com"), null);
 * ```
 *
 * @param text The address.
 * @returns The address, or null when `text` is not an IP address.
 */
export function parseIp(text: string): IpAddress | null {
  const zone = text.indexOf("%");
  const end = zone >= 0 ? zone : text.length;
  if (text.indexOf(":") < 0) {
    const v4 = parseIpv4(text, 0, end);
    return v4 < 0 ? null : { family: 4, w0: 0, w1: 0, w2: 0xffff, w3: v4 };
  }
  if (!parseIpv6(text, end)) return null;
  const w0 = ((groups[0]! << 16) | groups[1]!) >>> 0;
  const w1 = ((groups[2]! << 16) | groups[3]!) >>> 0;
  const w2 = ((groups[4]! << 16) | groups[5]!) >>> 0;
  const w3 = ((groups[6]! << 16) | groups[7]!) >>> 0;
  const family = w0 === 0 && w1 === 0 && w2 === 0xffff ? 4 : 6;
  return { family, w0, w1, w2, w3 };
}

/**
 * The mask of the bits of word `index` (0..3) that a prefix of `prefix`
 * bits covers, counted over the 128-bit form.
 *
 * @param prefix Prefix length, 0..128.
 * @param index Word index, 0..3.
 * @returns The mask, as an unsigned 32-bit number.
 */
export function wordMask(prefix: number, index: number): number {
  const bits = Math.max(0, Math.min(32, prefix - 32 * index));
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/**
 * The key under which per-client limits count a client: its IPv4 network of
 * `ipv4Prefix` bits, or its IPv6 network of `ipv6Prefix` bits (one site
 * usually holds a whole /64, RFC 6177, so counting single IPv6 addresses
 * would let one client take 2^64 quotas).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { clientKey, parseIp } from "./ip_address.ts";
 *
 * assert.equal(clientKey(parseIp("10.1.2.3")!, 24, 64), 0x0a010200);
 * assert.equal(clientKey(parseIp("2001:db8::1")!, 32, 64), clientKey(parseIp("2001:db8::2")!, 32, 64));
 * ```
 *
 * @param address The client's address.
 * @param ipv4Prefix Bits of an IPv4 address that identify a client (32 = each address).
 * @param ipv6Prefix Bits of an IPv6 address that identify a client.
 * @returns The key: a number for IPv4, a string for IPv6 (the two never collide).
 */
export function clientKey(address: IpAddress, ipv4Prefix: number, ipv6Prefix: number): ClientKey {
  if (address.family === 4) return (address.w3 & wordMask(ipv4Prefix + 96, 3)) >>> 0;
  const a = (address.w0 & wordMask(ipv6Prefix, 0)) >>> 0;
  const b = (address.w1 & wordMask(ipv6Prefix, 1)) >>> 0;
  if (ipv6Prefix <= 64) return `${a}:${b}`;
  const c = (address.w2 & wordMask(ipv6Prefix, 2)) >>> 0;
  const d = (address.w3 & wordMask(ipv6Prefix, 3)) >>> 0;
  return `${a}:${b}:${c}:${d}`;
}

/** Parses dotted-quad IPv4 in `text[start, end)`; returns the address or -1. */
function parseIpv4(text: string, start: number, end: number): number {
  let value = 0;
  let parts = 0;
  let position = start;
  while (parts < 4) {
    let part = 0;
    let digits = 0;
    while (position < end) {
      const code = text.charCodeAt(position);
      if (code < 48 || code > 57) break;
      if (digits === 1 && part === 0) return -1; // a leading zero
      part = part * 10 + code - 48;
      digits++;
      position++;
    }
    if (digits === 0 || digits > 3 || part > 255) return -1;
    value = value * 256 + part;
    parts++;
    if (parts < 4) {
      if (position >= end || text.charCodeAt(position) !== 46) return -1; // "."
      position++;
    }
  }
  return position === end ? value : -1;
}

/** Parses IPv6 text in `text[0, end)` into {@linkcode groups}; returns false when invalid. */
function parseIpv6(text: string, end: number): boolean {
  let count = 0;
  let gap = -1; // index in groups where "::" stands
  let position = 0;
  if (text.startsWith("::")) {
    gap = 0;
    position = 2;
  }
  while (position < end) {
    if (count === 8) return false;
    let value = 0;
    let digits = 0;
    const groupStart = position;
    while (position < end && digits <= 4) {
      const digit = hexDigit(text.charCodeAt(position));
      if (digit < 0) break;
      value = value * 16 + digit;
      digits++;
      position++;
    }
    if (position < end && text.charCodeAt(position) === 46) { // "." starts an IPv4 tail
      if (count > 6) return false;
      const v4 = parseIpv4(text, groupStart, end);
      if (v4 < 0) return false;
      groups[count++] = v4 >>> 16;
      groups[count++] = v4 & 0xffff;
      position = end;
      break;
    }
    if (digits === 0 || digits > 4) return false;
    groups[count++] = value;
    if (position === end) break;
    if (text.charCodeAt(position) !== 58) return false; // ":"
    position++;
    if (position < end && text.charCodeAt(position) === 58) {
      if (gap >= 0) return false; // a second "::"
      gap = count;
      position++;
    } else if (position === end) {
      return false; // a single trailing ":"
    }
  }
  if (gap < 0) return count === 8;
  if (count === 8) return false; // "::" must stand for at least one group
  const moved = count - gap;
  groups.copyWithin(8 - moved, gap, count);
  groups.fill(0, gap, 8 - moved);
  return true;
}

function hexDigit(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  if (code >= 65 && code <= 70) return code - 55;
  return -1;
}
