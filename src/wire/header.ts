/**
 * Reading and writing the fixed 12-octet header in place (RFC 1035 §4.1.1).
 *
 * Messages are forwarded as bytes, so these helpers touch single fields and
 * never build an object for the whole header.
 *
 * @module
 */

/** Bits of header octet 2. */
export const FLAG2 = { QR: 0x80, AA: 0x04, TC: 0x02, RD: 0x01 } as const;
/** Bits of header octet 3 (RCODE is its low four bits). */
export const FLAG3 = { RA: 0x80, AD: 0x20, CD: 0x10 } as const;

/** Offsets of the four section counts. */
export const COUNT_OFFSET = { QD: 4, AN: 6, NS: 8, AR: 10 } as const;

/**
 * Reads an unsigned 16-bit big-endian integer.
 *
 * @param bytes The buffer (the caller has checked the bounds).
 * @param offset Where the integer starts.
 * @returns The value, 0..65535.
 */
export function readU16(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! << 8) | bytes[offset + 1]!;
}

/**
 * Writes an unsigned 16-bit big-endian integer.
 *
 * @param bytes The buffer.
 * @param offset Where the integer goes.
 * @param value The value, 0..65535.
 */
export function writeU16(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = (value >>> 8) & 0xff;
  bytes[offset + 1] = value & 0xff;
}

/**
 * Reads an unsigned 32-bit big-endian integer (a TTL).
 *
 * @param bytes The buffer (the caller has checked the bounds).
 * @param offset Where the integer starts.
 * @returns The value, 0..2^32-1.
 */
export function readU32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) >>> 0) + (bytes[offset + 1]! << 16) +
    (bytes[offset + 2]! << 8) + bytes[offset + 3]!;
}

/**
 * Writes an unsigned 32-bit big-endian integer.
 *
 * @param bytes The buffer.
 * @param offset Where the integer goes.
 * @param value The value, 0..2^32-1.
 */
export function writeU32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = (value >>> 24) & 0xff;
  bytes[offset + 1] = (value >>> 16) & 0xff;
  bytes[offset + 2] = (value >>> 8) & 0xff;
  bytes[offset + 3] = value & 0xff;
}

/**
 * The message ID.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { getId, setId } from "./header.ts";
 *
 * const message = new Uint8Array(12);
 * setId(message, 0xbeef);
 * assert.equal(getId(message), 0xbeef);
 * ```
 *
 * @param message A message of at least 12 octets.
 * @returns The ID.
 */
export function getId(message: Uint8Array): number {
  return readU16(message, 0);
}

/**
 * Sets the message ID in place.
 *
 * @param message A message of at least 12 octets.
 * @param id The new ID.
 */
export function setId(message: Uint8Array, id: number): void {
  writeU16(message, 0, id);
}

/**
 * Whether the QR bit says this message is a response.
 *
 * @param message A message of at least 12 octets.
 * @returns True for a response.
 */
export function isResponse(message: Uint8Array): boolean {
  return (message[2]! & FLAG2.QR) !== 0;
}

/**
 * The opcode (RFC 1035 §4.1.1).
 *
 * @param message A message of at least 12 octets.
 * @returns The opcode, 0..15.
 */
export function getOpcode(message: Uint8Array): number {
  return (message[2]! >>> 3) & 0x0f;
}

/**
 * The low four bits of the response code, as the header holds them.
 *
 * @param message A message of at least 12 octets.
 * @returns The header RCODE, 0..15.
 */
export function getHeaderRcode(message: Uint8Array): number {
  return message[3]! & 0x0f;
}

/**
 * Whether the TC (truncated) bit is set.
 *
 * @param message A message of at least 12 octets.
 * @returns True when the sender truncated the message.
 */
export function isTruncated(message: Uint8Array): boolean {
  return (message[2]! & FLAG2.TC) !== 0;
}
