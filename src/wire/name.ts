/**
 * Domain names in wire form (RFC 1035 §3.1, §4.1.4).
 *
 * Names are checked where they lie in the message and compared byte by byte;
 * no string is built on the forwarding path.
 *
 * @module
 */

import { HEADER_LENGTH, MAX_NAME_LENGTH } from "./constants.ts";
import { DnsFormatError } from "./dns_format_error.ts";

const POINTER = 0xc0;
/**
 * A name has at most 127 labels, so it never needs more pointers than this
 * unless pointers point at pointers; refusing longer chains bounds the work
 * per name (a chain may otherwise be as long as the message).
 */
const MAX_POINTERS = 128;

/**
 * Checks the name at `offset` and returns where it ends in the message.
 *
 * Compression pointers must point before the label sequence that holds them,
 * so following them always moves backwards and cannot loop (the rule
 * dns-packet applies, strengthened to cover chains), no more than 128 of them
 * may be followed, and the expanded name may not exceed 255 octets.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { skipName } from "./name.ts";
 *
 * const message = new Uint8Array(12 + 13);
 * message.set([7, ...new TextEncoder().encode("example"), 3, 99, 111, 109, 0], 12);
 * assert.equal(skipName(message, 12), 25);
 * ```
 *
 * @param message The whole message (pointers are offsets into it).
 * @param offset Where the name starts.
 * @returns The offset just after the name as written at `offset`.
 * @throws {DnsFormatError} On truncation, a bad label type, a pointer that does
 * not go backwards, more than 128 pointers, or a name longer than 255 octets.
 */
export function skipName(message: Uint8Array, offset: number): number {
  let position = offset;
  let segmentStart = offset;
  let end = -1;
  let expanded = 0;
  let pointers = 0;
  for (;;) {
    if (position >= message.length) {
      throw new DnsFormatError("Cannot read name: truncated", position);
    }
    const length = message[position]!;
    if ((length & POINTER) === POINTER) {
      if (position + 1 >= message.length) {
        throw new DnsFormatError("Cannot read name: truncated pointer", position);
      }
      const target = ((length & 0x3f) << 8) | message[position + 1]!;
      if (target >= segmentStart || target < HEADER_LENGTH) {
        throw new DnsFormatError("Cannot read name: pointer does not point backwards", position);
      }
      if (++pointers > MAX_POINTERS) {
        throw new DnsFormatError("Cannot read name: too many compression pointers", position);
      }
      if (end < 0) end = position + 2;
      position = segmentStart = target;
      continue;
    }
    if ((length & POINTER) !== 0) {
      throw new DnsFormatError("Cannot read name: unknown label type", position);
    }
    expanded += length + 1;
    if (expanded > MAX_NAME_LENGTH) {
      throw new DnsFormatError("Cannot read name: longer than 255 octets", position);
    }
    if (length === 0) return end < 0 ? position + 1 : end;
    position += length + 1;
  }
}

/** Follows pointers from `position` to the next length octet (names already checked). */
function resolve(message: Uint8Array, position: number): number {
  while ((message[position]! & POINTER) === POINTER) {
    position = ((message[position]! & 0x3f) << 8) | message[position + 1]!;
  }
  return position;
}

function lowerAscii(byte: number): number {
  return byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte;
}

/**
 * Compares two checked names, ignoring ASCII letter case (RFC 4343).
 *
 * @param a Message holding the first name.
 * @param aOffset Where the first name starts (checked with {@linkcode skipName}).
 * @param b Message holding the second name.
 * @param bOffset Where the second name starts (checked with {@linkcode skipName}).
 * @returns True when both spell the same name.
 */
export function namesEqual(
  a: Uint8Array,
  aOffset: number,
  b: Uint8Array,
  bOffset: number,
): boolean {
  let i = aOffset;
  let j = bOffset;
  for (;;) {
    i = resolve(a, i);
    j = resolve(b, j);
    const length = a[i]!;
    if (length !== b[j]!) return false;
    if (length === 0) return true;
    for (let k = 1; k <= length; k++) {
      if (lowerAscii(a[i + k]!) !== lowerAscii(b[j + k]!)) return false;
    }
    i += length + 1;
    j += length + 1;
  }
}

/**
 * Writes a checked name in lower case and without compression into `target`.
 *
 * @param message Message holding the name.
 * @param offset Where the name starts (checked with {@linkcode skipName}).
 * @param target Where to write (at least 255 octets from `targetOffset`).
 * @param targetOffset Where in `target` the name goes.
 * @returns The offset in `target` after the name.
 */
export function writeCanonicalName(
  message: Uint8Array,
  offset: number,
  target: Uint8Array,
  targetOffset: number,
): number {
  let i = offset;
  let out = targetOffset;
  for (;;) {
    i = resolve(message, i);
    const length = message[i]!;
    target[out++] = length;
    if (length === 0) return out;
    for (let k = 1; k <= length; k++) target[out++] = lowerAscii(message[i + k]!);
    i += length + 1;
  }
}

/**
 * Presentation form of a checked name, for logs (RFC 1035 §5.1 escapes).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { nameToString } from "./name.ts";
 *
 * const message = new Uint8Array([...new Uint8Array(12), 3, 87, 119, 119, 1, 46, 0]);
 * assert.equal(nameToString(message, 12), "Www.\\..");
 * assert.equal(nameToString(new Uint8Array([...new Uint8Array(12), 0]), 12), ".");
 * ```
 *
 * @param message Message holding the name.
 * @param offset Where the name starts (checked with {@linkcode skipName}).
 * @returns The name with a trailing dot, "." for the root.
 */
export function nameToString(message: Uint8Array, offset: number): string {
  let text = "";
  let i = offset;
  for (;;) {
    i = resolve(message, i);
    const length = message[i]!;
    if (length === 0) return text === "" ? "." : text;
    for (let k = 1; k <= length; k++) text += escapeLabelByte(message[i + k]!);
    text += ".";
    i += length + 1;
  }
}

function escapeLabelByte(byte: number): string {
  if (byte === 0x2e || byte === 0x5c) return "\\" + String.fromCharCode(byte);
  if (byte <= 0x20 || byte >= 0x7f) return "\\" + String(byte).padStart(3, "0");
  return String.fromCharCode(byte);
}
