/**
 * A reply decoded for validation: its RCODE, question and RRsets by
 * section, and the helper that verifies its denial records.
 *
 * @module
 */

import { HEADER_LENGTH } from "../wire/constants.ts";
import { getHeaderRcode } from "../wire/header.ts";
import { parseMessage, SECTION } from "../wire/message.ts";
import type { DnsKey } from "./keys.ts";
import { isSubdomain, type Name, namesEqual, readName } from "./names.ts";
import { type Nsec, parseNsec } from "./nsec.ts";
import { type Nsec3, parseNsec3 } from "./nsec3.ts";
import { groupRrsets, readRecords, type Rrset, TYPE } from "./records.ts";
import { verifyRrset } from "./rrset_verify.ts";
import type { WorkBudget } from "./work_budget.ts";

/** A decoded reply. */
export interface Reply {
  readonly rcode: number;
  readonly qname: Name;
  readonly qtype: number;
  readonly answer: Rrset[];
  readonly authority: Rrset[];
}

/**
 * Decodes a reply.
 *
 * @param message The message (with or without its OPT record).
 * @returns The reply.
 * @throws {DnsFormatError} When it is malformed.
 */
export function decodeReply(message: Uint8Array): Reply {
  const layout = parseMessage(message);
  const sets = groupRrsets(readRecords(message, layout.questionEnd));
  return {
    rcode: getHeaderRcode(message),
    qname: layout.questionCount === 1 ? readName(message, HEADER_LENGTH) : new Uint8Array([0]),
    qtype: layout.qtype,
    answer: sets.filter((set) => set.section === SECTION.ANSWER),
    authority: sets.filter((set) => set.section === SECTION.AUTHORITY),
  };
}

/** The RRset of a section with this owner and type. */
export function findRrset(sets: readonly Rrset[], owner: Name, type: number): Rrset | undefined {
  return sets.find((set) => set.type === type && namesEqual(set.owner, owner));
}

/** The signer named by the RRSIGs of an authority section (SOA's first). */
export function authoritySigner(sets: readonly Rrset[]): Name | undefined {
  const ordered = [...sets].sort((a, b) =>
    (a.type === TYPE.SOA ? -1 : 0) - (b.type === TYPE.SOA ? -1 : 0)
  );
  for (const set of ordered) {
    const rrsig = set.rrsigs.find((sig) => isSubdomain(set.owner, sig.signer));
    if (rrsig !== undefined) return rrsig.signer;
  }
  return undefined;
}

/** Verified denial records of one zone, and how long they may be trusted. */
export interface Denial {
  readonly nsecs: Nsec[];
  readonly nsec3s: Nsec3[];
  /** Smallest TTL among the verified RRsets (and SOA minimum). */
  readonly ttl: number;
}

/**
 * Verifies the SOA, NSEC and NSEC3 RRsets of an authority section that
 * belong to `zone` with its keys, and returns the denial records.
 *
 * @throws {BogusError} When one of them does not verify.
 */
export async function verifyDenial(
  authority: readonly Rrset[],
  zone: Name,
  keys: readonly DnsKey[],
  now: number,
  budget: WorkBudget,
): Promise<Denial> {
  const nsecs: Nsec[] = [];
  const nsec3s: Nsec3[] = [];
  let ttl = Infinity;
  for (const set of authority) {
    if (set.type !== TYPE.SOA && set.type !== TYPE.NSEC && set.type !== TYPE.NSEC3) continue;
    if (!isSubdomain(set.owner, zone)) continue;
    const verified = await verifyRrset(set, zone, keys, now, budget);
    ttl = Math.min(ttl, verified.ttl);
    for (const record of set.records) {
      if (set.type === TYPE.NSEC) {
        const nsec = parseNsec(record);
        if (nsec !== null) nsecs.push(nsec);
      } else if (set.type === TYPE.NSEC3) {
        const nsec3 = parseNsec3(record);
        if (nsec3 !== null) nsec3s.push(nsec3);
      } else if (record.rdata.length >= 4) {
        const r = record.rdata;
        ttl = Math.min(
          ttl,
          ((r[r.length - 4]! << 24) | (r[r.length - 3]! << 16) | (r[r.length - 2]! << 8) |
            r[r.length - 1]!) >>> 0,
        );
      }
    }
  }
  return { nsecs, nsec3s, ttl };
}
