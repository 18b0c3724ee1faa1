/**
 * The records of a message decoded for validation: owner names and the
 * names inside RDATA uncompressed and, where RFC 4034 §6.2 says so (as
 * amended by RFC 6840 §5.1), in lower case; records grouped into RRsets
 * with the RRSIGs that cover them.
 *
 * @module
 */

import { RRTYPE } from "../wire/constants.ts";
import { readU16, readU32 } from "../wire/header.ts";
import { SECTION, type Section, walkRecords } from "../wire/message.ts";
import { skipName } from "../wire/name.ts";
import { type Name, nameKey, readName } from "./names.ts";

/** Record types the validator needs by name. */
export const TYPE = {
  ...RRTYPE,
  DNAME: 39,
  DS: 43,
  RRSIG: 46,
  NSEC: 47,
  DNSKEY: 48,
  NSEC3: 50,
  NSEC3PARAM: 51,
} as const;

/** One resource record in canonical form. */
export interface Record {
  readonly owner: Name;
  readonly type: number;
  readonly klass: number;
  readonly ttl: number;
  /** RDATA in canonical form (names uncompressed, lower case where the RFCs say). */
  readonly rdata: Uint8Array;
  readonly section: Section;
}

/** The fields of an RRSIG (RFC 4034 §3.1). */
export interface Rrsig {
  readonly typeCovered: number;
  readonly algorithm: number;
  readonly labels: number;
  readonly originalTtl: number;
  readonly expiration: number;
  readonly inception: number;
  readonly keyTag: number;
  readonly signer: Name;
  /** RDATA up to and including the signer name: the first part of the signed data. */
  readonly signedPart: Uint8Array;
  readonly signature: Uint8Array;
  /** The record's TTL. */
  readonly ttl: number;
}

/** Records of one owner, type and class, with the RRSIGs covering them. */
export interface Rrset {
  readonly owner: Name;
  readonly type: number;
  readonly klass: number;
  readonly records: Record[];
  readonly rrsigs: Rrsig[];
  readonly section: Section;
}

/** Types whose RDATA names are compressed in messages or lowered in canonical form. */
const NAME_LAYOUT: ReadonlyMap<
  number,
  { readonly at: number; readonly names: number; readonly lower: boolean }
> = new Map([
  [TYPE.NS, { at: 0, names: 1, lower: true }],
  [TYPE.CNAME, { at: 0, names: 1, lower: true }],
  [TYPE.PTR, { at: 0, names: 1, lower: true }],
  [TYPE.DNAME, { at: 0, names: 1, lower: true }],
  [TYPE.SOA, { at: 0, names: 2, lower: true }],
  [TYPE.MX, { at: 2, names: 1, lower: true }],
  [TYPE.SRV, { at: 6, names: 1, lower: true }],
  [TYPE.RRSIG, { at: 18, names: 1, lower: true }],
  [TYPE.NSEC, { at: 0, names: 1, lower: false }],
]);

/**
 * Decodes the answer and authority records of a message (the additional
 * section is never needed to validate an answer, and OPT is not a record).
 *
 * @param message A message whose structure was checked (`parseMessage`).
 * @param questionEnd Offset just after its question.
 * @returns The records.
 */
export function readRecords(message: Uint8Array, questionEnd: number): Record[] {
  const records: Record[] = [];
  walkRecords(message, questionEnd, (position) => {
    if (position.section === SECTION.ADDITIONAL) return;
    records.push({
      owner: readName(message, position.start),
      type: position.type,
      klass: position.klass,
      ttl: readU32(message, position.ttlOffset),
      rdata: uncompressedRdata(message, position.type, position.rdataOffset, position.rdataLength),
      section: position.section,
    });
  });
  return records;
}

/**
 * RDATA with its names uncompressed: in canonical case when `keepCase` is
 * false (lower case for the types RFC 4034 §6.2 lists), as sent otherwise.
 *
 * @param message The message.
 * @param type The record's type.
 * @param offset Where the RDATA starts.
 * @param length Its length.
 * @param keepCase Keep the names' letter case.
 * @returns The RDATA.
 */
export function uncompressedRdata(
  message: Uint8Array,
  type: number,
  offset: number,
  length: number,
  keepCase = false,
): Uint8Array {
  const layout = NAME_LAYOUT.get(type);
  const end = offset + length;
  if (layout === undefined || layout.at > length) return message.slice(offset, end);
  const parts: Uint8Array[] = [message.subarray(offset, offset + layout.at)];
  let position = offset + layout.at;
  for (let k = 0; k < layout.names; k++) {
    const after = skipName(message, position);
    if (after > end) return message.slice(offset, end);
    parts.push(readName(message, position, layout.lower && !keepCase));
    position = after;
  }
  parts.push(message.subarray(position, end));
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * Reads an RRSIG's fields from its canonical RDATA.
 *
 * @returns The fields, or null when the RDATA is too short.
 */
export function parseRrsig(record: Record): Rrsig | null {
  const r = record.rdata;
  if (r.length < 19) return null;
  const signerEnd = nameEnd(r, 18);
  if (signerEnd < 0) return null;
  return {
    typeCovered: readU16(r, 0),
    algorithm: r[2]!,
    labels: r[3]!,
    originalTtl: readU32(r, 4),
    expiration: readU32(r, 8),
    inception: readU32(r, 12),
    keyTag: readU16(r, 16),
    signer: r.slice(18, signerEnd),
    signedPart: r.subarray(0, signerEnd),
    signature: r.subarray(signerEnd),
    ttl: record.ttl,
  };
}

/** End of an uncompressed name in `bytes` at `offset`, or -1. */
export function nameEnd(bytes: Uint8Array, offset: number): number {
  let i = offset;
  while (i < bytes.length) {
    const length = bytes[i]!;
    if (length === 0) return i + 1;
    if (length > 63) return -1;
    i += length + 1;
  }
  return -1;
}

/**
 * Groups records into RRsets, each with the RRSIGs of the same owner and
 * section that cover its type; RRSIGs whose type has no records stay apart
 * as RRsets of type RRSIG.
 *
 * @param records The records of one message.
 * @returns The RRsets, in order of first appearance.
 */
export function groupRrsets(records: readonly Record[]): Rrset[] {
  const sets = new Map<string, Rrset>();
  const key = (owner: Name, type: number, klass: number, section: number) =>
    `${section}|${type}|${klass}|${nameKey(owner)}`;
  for (const record of records) {
    if (record.type === TYPE.RRSIG) continue;
    const k = key(record.owner, record.type, record.klass, record.section);
    let set = sets.get(k);
    if (set === undefined) {
      set = {
        owner: record.owner,
        type: record.type,
        klass: record.klass,
        records: [],
        rrsigs: [],
        section: record.section,
      };
      sets.set(k, set);
    }
    // Duplicate records count once (RFC 2181 §5).
    if (!set.records.some((other) => bytesEqual(other.rdata, record.rdata))) {
      set.records.push(record);
    }
  }
  for (const record of records) {
    if (record.type !== TYPE.RRSIG) continue;
    const rrsig = parseRrsig(record);
    if (rrsig === null) continue;
    sets.get(key(record.owner, rrsig.typeCovered, record.klass, record.section))?.rrsigs.push(
      rrsig,
    );
  }
  return [...sets.values()];
}

/** Whether two byte strings are equal. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Whether a type bitmap (RFC 4034 §4.1.2) lists a type.
 *
 * @param bitmap The Type Bit Maps field.
 * @param type The type.
 */
export function bitmapHas(bitmap: Uint8Array, type: number): boolean {
  const window = type >>> 8;
  const bit = type & 0xff;
  let i = 0;
  while (i + 2 <= bitmap.length) {
    const w = bitmap[i]!;
    const length = bitmap[i + 1]!;
    if (w === window) {
      const byte = bit >>> 3;
      if (byte >= length || i + 2 + byte >= bitmap.length) return false;
      return (bitmap[i + 2 + byte]! & (0x80 >>> (bit & 7))) !== 0;
    }
    i += 2 + length;
  }
  return false;
}
