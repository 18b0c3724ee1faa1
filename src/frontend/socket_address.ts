/**
 * The `sockaddr_in` / `sockaddr_in6` structures of `ReusePortUdpSocket` (reuse_port_udp.ts):
 * made from an address and port, and read back into a `Deno.NetAddr` as
 * Deno writes it (the structure kept in it, for the answer).
 *
 * @module
 */

import { AF_INET, AF_INET6, NAME_SIZE } from "./libc_socket.ts";
import type { IpAddress } from "../access/ip_address.ts";

/** A client address as the socket hands it out: its `sockaddr` is kept for the answer. */
export interface SocketAddr extends Deno.NetAddr {
  readonly sockaddr?: Uint8Array;
}

/**
 * A `sockaddr_in` or `sockaddr_in6` for an address and port.
 *
 * @param hostname An IPv4 or IPv6 address.
 * @param port The port.
 * @returns The structure's bytes.
 * @throws {TypeError} When `hostname` is not an IP address.
 */
export function encodeAddress(hostname: string, port: number): Uint8Array {
  const v4 = parseIpv4(hostname);
  if (v4 !== null) {
    const bytes = new Uint8Array(16);
    bytes[0] = AF_INET; // sa_family, little-endian
    bytes[2] = port >>> 8;
    bytes[3] = port & 0xff;
    bytes.set(v4, 4);
    return bytes;
  }
  const v6 = parseIpv6(hostname);
  if (v6 === null) throw new TypeError(`Cannot use address "${hostname}": not an IP address`);
  const bytes = new Uint8Array(NAME_SIZE);
  bytes[0] = AF_INET6;
  bytes[2] = port >>> 8;
  bytes[3] = port & 0xff;
  bytes.set(v6, 8);
  return bytes;
}

/**
 * The address and port in a `sockaddr_in` or `sockaddr_in6`, as Deno
 * writes them (IPv6 in the RFC 5952 short form).
 *
 * @param name The structure's bytes (kept in the result, for answers).
 * @returns The address.
 */
export function decodeAddress(name: Uint8Array): Deno.NetAddr {
  const port = (name[2]! << 8) | name[3]!;
  let hostname: string;
  if (name[0] === AF_INET) {
    hostname = `${name[4]}.${name[5]}.${name[6]}.${name[7]}`;
  } else {
    hostname = formatIpv6(name.subarray(8, 24));
  }
  const addr: SocketAddr = { transport: "udp", hostname, port, sockaddr: name };
  return addr;
}

function parseIpv4(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!/^\d{1,3}$/.test(parts[i]!) || Number(parts[i]) > 255) return null;
    bytes[i] = Number(parts[i]);
  }
  return bytes;
}

function parseIpv6(text: string): Uint8Array | null {
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (part: string) => part === "" ? [] : part.split(":");
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const words: number[] = [];
  const pushAll = (list: string[]) => {
    for (const group of list) {
      if (group.includes(".")) {
        const v4 = parseIpv4(group);
        if (v4 === null) return false;
        words.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(group)) {
        words.push(parseInt(group, 16));
      } else {
        return false;
      }
    }
    return true;
  };
  if (!pushAll(head)) return null;
  const headLength = words.length;
  if (!pushAll(tail)) return null;
  const missing = 8 - words.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  words.splice(headLength, 0, ...new Array(missing).fill(0));
  const bytes = new Uint8Array(16);
  words.forEach((word, i) => {
    bytes[2 * i] = word >>> 8;
    bytes[2 * i + 1] = word & 0xff;
  });
  return bytes;
}

/**
 * RFC 5952: lower case, no leading zeros, the longest run of two or more
 * zero groups as `::`; an IPv4-mapped address as `::ffff:a.b.c.d` (as Deno
 * gives it, so that logs and the access list see the same text).
 */
function formatIpv6(bytes: Uint8Array): string {
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((bytes[i]! << 8) | bytes[i + 1]!);
  if (words.slice(0, 5).every((word) => word === 0) && words[5] === 0xffff) {
    return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (list: number[]) => list.map((word) => word.toString(16)).join(":");
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLength))}`;
}

/**
 * The client address in a `sockaddr_in` or `sockaddr_in6`, as the access
 * list and rate limits take it, without making its text (an IPv4-mapped
 * IPv6 address is IPv4, as `parseIp` has it).
 *
 * @param name The structure's bytes.
 * @returns The address.
 */
export function ipFromSocketAddress(name: Uint8Array): IpAddress {
  const word = (at: number) =>
    ((name[at]! << 24) | (name[at + 1]! << 16) | (name[at + 2]! << 8) | name[at + 3]!) >>> 0;
  if (name[0] === AF_INET) return { family: 4, w0: 0, w1: 0, w2: 0xffff, w3: word(4) };
  const w0 = word(8), w1 = word(12), w2 = word(16), w3 = word(20);
  return { family: w0 === 0 && w1 === 0 && w2 === 0xffff ? 4 : 6, w0, w1, w2, w3 };
}

/**
 * Whether two address structures hold the same address (the port and any
 * octets past the address aside).
 *
 * @param a One structure.
 * @param b Another.
 * @returns True when family and address are equal.
 */
export function sameHost(a: Uint8Array, b: Uint8Array): boolean {
  if (a[0] !== b[0]) return false;
  const [from, to] = a[0] === AF_INET ? [4, 8] : [8, 24];
  for (let i = from; i < to; i++) if (a[i] !== b[i]) return false;
  return true;
}
