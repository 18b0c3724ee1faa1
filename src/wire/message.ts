/**
 * The structure of a whole message, found without decoding it into objects:
 * where the question ends, its type and class, where the records end and
 * where the OPT pseudo-record is (RFC 1035 §4.1, RFC 6891 §6.1).
 *
 * @module
 */

import { HEADER_LENGTH, RRTYPE } from "./constants.ts";
import { DnsFormatError } from "./dns_format_error.ts";
import { COUNT_OFFSET, readU16 } from "./header.ts";
import { skipName } from "./name.ts";

/** Sections that hold resource records. */
export const SECTION = { ANSWER: 1, AUTHORITY: 2, ADDITIONAL: 3 } as const;
/** One of {@linkcode SECTION}. */
export type Section = typeof SECTION[keyof typeof SECTION];

/** Where one resource record lies in a message. */
export interface RecordPosition {
  /** Offset of the owner name. */
  start: number;
  /** Offset just after the record. */
  end: number;
  type: number;
  klass: number;
  /** Offset of the 32-bit TTL. */
  ttlOffset: number;
  /** Offset of the RDATA. */
  rdataOffset: number;
  rdataLength: number;
  section: Section;
}

/** The EDNS(0) OPT pseudo-record of a message (RFC 6891 §6.1.2-6.1.3). */
export interface Edns {
  /** Offset of the OPT record. */
  readonly start: number;
  /** Offset just after the OPT record. */
  readonly end: number;
  /** Requestor's UDP payload size (the CLASS field). */
  readonly udpSize: number;
  /** Upper eight bits of the extended RCODE. */
  readonly extendedRcode: number;
  readonly version: number;
  /** The DO bit (RFC 3225). */
  readonly dnssecOk: boolean;
  /** Offset of the first option in the RDATA. */
  readonly optionsStart: number;
  /** Additional records after the OPT record (usually 0: OPT comes last). */
  readonly recordsAfter: number;
}

/** What {@linkcode parseMessage} found. */
export interface MessageLayout {
  /** Number of questions: 0 or 1. */
  readonly questionCount: number;
  /** Offset just after the question (12 without one). */
  readonly questionEnd: number;
  /** QTYPE, or -1 without a question. */
  readonly qtype: number;
  /** QCLASS, or -1 without a question. */
  readonly qclass: number;
  /** The OPT record, or null without one. */
  readonly edns: Edns | null;
  /** Offset just after the last record; octets beyond it are ignored. */
  readonly end: number;
}

/** The counts of the answer, authority and additional sections, in order. */
const RECORD_COUNT_OFFSETS = [COUNT_OFFSET.AN, COUNT_OFFSET.NS, COUNT_OFFSET.AR] as const;

/**
 * Calls `visit` for each resource record in the answer, authority and
 * additional sections, checking every name and length on the way.
 *
 * @param message The whole message.
 * @param offset Where the answer section starts (just after the question).
 * @param visit Called with the position of each record; the object is reused.
 * @returns The offset just after the last record.
 * @throws {DnsFormatError} When a record is cut short or a name is malformed.
 */
export function walkRecords(
  message: Uint8Array,
  offset: number,
  visit?: (record: RecordPosition) => void,
): number {
  const record: RecordPosition = {
    start: 0,
    end: 0,
    type: 0,
    klass: 0,
    ttlOffset: 0,
    rdataOffset: 0,
    rdataLength: 0,
    section: SECTION.ANSWER,
  };
  let position = offset;
  for (let s = 0; s < 3; s++) {
    const count = readU16(message, RECORD_COUNT_OFFSETS[s]!);
    for (let i = 0; i < count; i++) {
      const start = position;
      position = skipName(message, position);
      if (position + 10 > message.length) {
        throw new DnsFormatError("Cannot read record: truncated", position);
      }
      const rdataLength = readU16(message, position + 8);
      const end = position + 10 + rdataLength;
      if (end > message.length) {
        throw new DnsFormatError("Cannot read record: RDATA truncated", position);
      }
      if (visit) {
        record.start = start;
        record.end = end;
        record.type = readU16(message, position);
        record.klass = readU16(message, position + 2);
        record.ttlOffset = position + 4;
        record.rdataOffset = position + 10;
        record.rdataLength = rdataLength;
        record.section = (s + 1) as Section;
        visit(record);
      }
      position = end;
    }
  }
  return position;
}

/**
 * Finds the question, the records and the OPT record of a message.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseMessage } from "./message.ts";
 *
 * // ID 1, RD, one question "a." IN A, one OPT (UDP 1232, DO).
 * const query = new Uint8Array([
 *   0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1,
 *   1, 97, 0, 0, 1, 0, 1,
 *   0, 0, 41, 4, 208, 0, 0, 128, 0, 0, 0,
 * ]);
 * const layout = parseMessage(query);
 * assert.equal(layout.questionEnd, 19);
 * assert.equal(layout.qtype, 1);
 * assert.equal(layout.edns?.udpSize, 1232);
 * assert.equal(layout.edns?.dnssecOk, true);
 * ```
 *
 * @param message A message of at least 12 octets.
 * @returns Its layout.
 * @throws {DnsFormatError} When the message is malformed: more than one
 * question, a bad name, a record cut short, more than one OPT, or an OPT that
 * is not owned by the root or not in the additional section.
 */
export function parseMessage(message: Uint8Array): MessageLayout {
  if (message.length < HEADER_LENGTH) throw new DnsFormatError("Cannot read header: truncated", 0);
  const questionCount = readU16(message, COUNT_OFFSET.QD);
  if (questionCount > 1) {
    throw new DnsFormatError("Cannot read question: more than one question", COUNT_OFFSET.QD);
  }
  let questionEnd = HEADER_LENGTH;
  let qtype = -1;
  let qclass = -1;
  if (questionCount === 1) {
    const nameEnd = skipName(message, HEADER_LENGTH);
    questionEnd = nameEnd + 4;
    if (questionEnd > message.length) {
      throw new DnsFormatError("Cannot read question: truncated", nameEnd);
    }
    qtype = readU16(message, nameEnd);
    qclass = readU16(message, nameEnd + 2);
  }
  // Records after the OPT are counted on the OPT object itself: it is
  // built once, not copied to add the count (parsed twice per query).
  let opt: { -readonly [K in keyof Edns]: Edns[K] } | null = null;
  const end = walkRecords(message, questionEnd, (record) => {
    if (record.type !== RRTYPE.OPT) {
      if (opt !== null) opt.recordsAfter++;
      return;
    }
    if (opt !== null) throw new DnsFormatError("Cannot read OPT: more than one", record.start);
    opt = readOpt(message, record);
  });
  const edns: Edns | null = opt;
  return { questionCount, questionEnd, qtype, qclass, edns, end };
}

function readOpt(message: Uint8Array, record: RecordPosition): Edns {
  if (record.section !== SECTION.ADDITIONAL) {
    throw new DnsFormatError("Cannot read OPT: not in the additional section", record.start);
  }
  if (message[record.start] !== 0) {
    throw new DnsFormatError("Cannot read OPT: owner is not the root", record.start);
  }
  forEachOption(message, record.rdataOffset, record.end, () => {});
  return {
    start: record.start,
    end: record.end,
    udpSize: record.klass,
    extendedRcode: message[record.ttlOffset]!,
    version: message[record.ttlOffset + 1]!,
    dnssecOk: (message[record.ttlOffset + 2]! & 0x80) !== 0,
    optionsStart: record.rdataOffset,
    recordsAfter: 0,
  };
}

/**
 * Calls `visit` for each EDNS option between `start` and `end`.
 *
 * @param message The whole message.
 * @param start Offset of the first option.
 * @param end Offset just after the OPT RDATA.
 * @param visit Called with the option code, the offset of its data and its length.
 * @throws {DnsFormatError} When an option runs past the RDATA.
 */
export function forEachOption(
  message: Uint8Array,
  start: number,
  end: number,
  visit: (code: number, dataOffset: number, dataLength: number) => void,
): void {
  let position = start;
  while (position < end) {
    if (position + 4 > end) {
      throw new DnsFormatError("Cannot read EDNS option: truncated", position);
    }
    const length = readU16(message, position + 2);
    if (position + 4 + length > end) {
      throw new DnsFormatError("Cannot read EDNS option: data truncated", position);
    }
    visit(readU16(message, position), position + 4, length);
    position += 4 + length;
  }
}
