/**
 * Answers for clients that did not set DO: the proxy asks upstream with
 * DO=1 when it validates, and takes out the RRSIG, NSEC and NSEC3 records
 * the client did not ask for (RFC 4035 §3.2.1), writing every kept name
 * uncompressed so that no compression pointer can point into a removed
 * record.
 *
 * @module
 */

import { COUNT_OFFSET, writeU16 } from "../wire/header.ts";
import { SECTION, walkRecords } from "../wire/message.ts";
import { readName } from "./names.ts";
import { TYPE, uncompressedRdata } from "./records.ts";

const DNSSEC_TYPES: ReadonlySet<number> = new Set([TYPE.RRSIG, TYPE.NSEC, TYPE.NSEC3]);

/**
 * Removes DNSSEC records a DO=0 client must not get.
 *
 * @param message A message without OPT record (an `Answer`'s).
 * @param questionEnd Offset just after its question.
 * @param qtype The question's type: records of that type in the answer section stay.
 * @returns The same message when it holds none, else a new one.
 */
export function stripDnssecRecords(
  message: Uint8Array,
  questionEnd: number,
  qtype: number,
): Uint8Array {
  let found = false;
  walkRecords(message, questionEnd, (record) => {
    if (
      DNSSEC_TYPES.has(record.type) && !(record.section === SECTION.ANSWER && record.type === qtype)
    ) {
      found = true;
    }
  });
  if (!found) return message;
  // The question is copied as it was: at offset 12 it cannot hold a pointer.
  const parts: Uint8Array[] = [message.slice(0, questionEnd)];
  const counts = [0, 0, 0];
  walkRecords(message, questionEnd, (record) => {
    if (
      DNSSEC_TYPES.has(record.type) && !(record.section === SECTION.ANSWER && record.type === qtype)
    ) return;
    counts[record.section - 1]!++;
    const owner = readName(message, record.start, false);
    const rdata = uncompressedRdata(
      message,
      record.type,
      record.rdataOffset,
      record.rdataLength,
      true,
    );
    const out = new Uint8Array(owner.length + 10 + rdata.length);
    out.set(owner);
    out.set(message.subarray(record.ttlOffset - 4, record.ttlOffset + 4), owner.length);
    writeU16(out, owner.length + 8, rdata.length);
    out.set(rdata, owner.length + 10);
    parts.push(out);
  });
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  const stripped = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    stripped.set(part, at);
    at += part.length;
  }
  writeU16(stripped, COUNT_OFFSET.AN, counts[0]!);
  writeU16(stripped, COUNT_OFFSET.NS, counts[1]!);
  writeU16(stripped, COUNT_OFFSET.AR, counts[2]!);
  return stripped;
}
