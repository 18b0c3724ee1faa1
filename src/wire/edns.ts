/**
 * Writing OPT pseudo-records (RFC 6891 §6.1.2). OPT is hop-by-hop: the proxy
 * writes its own towards the upstream and its own towards the client, and
 * never forwards either side's.
 *
 * @module
 */

import { EDNS_OPTION, RRTYPE } from "./constants.ts";
import { writeU16 } from "./header.ts";

/** Octets of an OPT record before its options: root name, TYPE, CLASS, TTL, RDLENGTH. */
export const OPT_HEADER_LENGTH = 11;

/** Fields of an OPT record other than its options. */
export interface OptFields {
  /** The UDP payload size this side can receive. */
  readonly udpSize: number;
  /** Upper eight bits of the extended RCODE. */
  readonly extendedRcode: number;
  /** The DO bit (RFC 3225). */
  readonly dnssecOk: boolean;
}

/**
 * Writes an OPT record header (EDNS version 0) whose RDATA is `rdataLength`
 * octets long; the caller writes the options after it.
 *
 * @param target Where to write.
 * @param offset Where the record starts.
 * @param fields The record's fields.
 * @param rdataLength Length of the options that follow.
 * @returns The offset of the RDATA.
 */
export function writeOptHeader(
  target: Uint8Array,
  offset: number,
  fields: OptFields,
  rdataLength: number,
): number {
  target[offset] = 0; // root owner name
  writeU16(target, offset + 1, RRTYPE.OPT);
  writeU16(target, offset + 3, fields.udpSize);
  target[offset + 5] = fields.extendedRcode;
  target[offset + 6] = 0; // version 0
  target[offset + 7] = fields.dnssecOk ? 0x80 : 0;
  target[offset + 8] = 0;
  writeU16(target, offset + 9, rdataLength);
  return offset + OPT_HEADER_LENGTH;
}

/**
 * Length of an Extended DNS Error option (RFC 8914 §2) with this text.
 *
 * @param text EXTRA-TEXT (UTF-8).
 * @returns The option's length, its code and length fields included.
 */
export function extendedErrorLength(text: Uint8Array): number {
  return 6 + text.length;
}

/**
 * Writes an Extended DNS Error option (RFC 8914 §2).
 *
 * @param target Where to write.
 * @param offset Where the option starts.
 * @param infoCode The INFO-CODE.
 * @param text EXTRA-TEXT (UTF-8, may be empty).
 * @returns The offset after the option.
 */
export function writeExtendedError(
  target: Uint8Array,
  offset: number,
  infoCode: number,
  text: Uint8Array,
): number {
  writeU16(target, offset, EDNS_OPTION.EXTENDED_ERROR);
  writeU16(target, offset + 2, 2 + text.length);
  writeU16(target, offset + 4, infoCode);
  target.set(text, offset + 6);
  return offset + 6 + text.length;
}
