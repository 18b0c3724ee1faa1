/**
 * Denial of existence with NSEC (RFC 4035 §5.4, RFC 6840 §4.1, §4.3): the
 * records given are already verified with the zone's keys.
 *
 * @module
 */

import {
  commonAncestor,
  compareNames,
  isSubdomain,
  labelCount,
  type Name,
  namesEqual,
  nameToText,
  readName,
  wildcardOf,
} from "./names.ts";
import { bitmapHas, nameEnd, type Record, TYPE } from "./records.ts";
import { BogusError, DNSSEC_EDE } from "./verdict.ts";

/** An NSEC record's fields. */
export interface Nsec {
  readonly owner: Name;
  /** Next owner name, lower case. */
  readonly next: Name;
  readonly bitmap: Uint8Array;
}

/** What a proof of a DS's absence shows about a name. */
export type CutProof = "insecure-delegation" | "not-a-cut" | "nonexistent";

/** Reads an NSEC record; null when malformed. */
export function parseNsec(record: Record): Nsec | null {
  const end = nameEnd(record.rdata, 0);
  if (end < 0) return null;
  return {
    owner: record.owner,
    next: readName(record.rdata, 0, true),
    bitmap: record.rdata.subarray(end),
  };
}

/** Whether an NSEC covers a name: the name sorts strictly between owner and next. */
function covers(nsec: Nsec, name: Name): boolean {
  if (compareNames(nsec.owner, name) >= 0) return false;
  // The last NSEC of a zone points back to the apex.
  if (compareNames(nsec.next, nsec.owner) <= 0) return true;
  return compareNames(name, nsec.next) < 0;
}

/**
 * Whether the NSEC may speak for `name`: an NSEC at a delegation (NS
 * without SOA) or at a DNAME is the parent's, and proves nothing below it
 * (RFC 6840 §4.1).
 */
function mayDeny(nsec: Nsec, name: Name): boolean {
  if (!isSubdomain(name, nsec.owner) || namesEqual(name, nsec.owner)) return true;
  const delegation = bitmapHas(nsec.bitmap, TYPE.NS) && !bitmapHas(nsec.bitmap, TYPE.SOA);
  return !delegation && !bitmapHas(nsec.bitmap, TYPE.DNAME);
}

function matching(nsecs: readonly Nsec[], name: Name): Nsec | undefined {
  return nsecs.find((nsec) => namesEqual(nsec.owner, name));
}

function covering(nsecs: readonly Nsec[], name: Name, zone: Name): Nsec | undefined {
  return nsecs.find((nsec) =>
    isSubdomain(nsec.owner, zone) && covers(nsec, name) && mayDeny(nsec, name)
  );
}

/** The closest encloser shown by the NSEC that covers `name`. */
function closestEncloser(nsec: Nsec, name: Name): Name {
  const a = commonAncestor(name, nsec.owner);
  const b = commonAncestor(name, nsec.next);
  return labelCount(a) >= labelCount(b) ? a : b;
}

/**
 * Proves that `qname` does not exist (NXDOMAIN): an NSEC covers it and
 * another (or the same) covers the wildcard at its closest encloser.
 *
 * @throws {BogusError} EDE 12 when the records do not prove it.
 */
export function proveNxdomainNsec(nsecs: readonly Nsec[], qname: Name, zone: Name): void {
  const cover = covering(nsecs, qname, zone);
  if (cover === undefined) throw missing(`no NSEC covers ${nameToText(qname)}`);
  const wildcard = wildcardOf(closestEncloser(cover, qname));
  if (covering(nsecs, wildcard, zone) === undefined) {
    throw missing(`no NSEC denies the wildcard ${nameToText(wildcard)}`);
  }
}

/**
 * Proves that `qname` has no `qtype` records (NODATA), by an NSEC at the
 * name, an NSEC showing an empty non-terminal, or a wildcard's NSEC.
 *
 * @throws {BogusError} EDE 12 when the records do not prove it.
 */
export function proveNodataNsec(
  nsecs: readonly Nsec[],
  qname: Name,
  qtype: number,
  zone: Name,
): void {
  const exact = matching(nsecs, qname);
  if (exact !== undefined) {
    if (lacks(exact, qtype)) return;
    throw new BogusError(DNSSEC_EDE.BOGUS, `NSEC at ${nameToText(qname)} lists the type denied`);
  }
  const cover = covering(nsecs, qname, zone);
  if (cover !== undefined) {
    // An empty non-terminal: the next name is below the name (RFC 4035 §3.1.3.2).
    if (isSubdomain(cover.next, qname)) return;
    const wildcard = matching(nsecs, wildcardOf(closestEncloser(cover, qname)));
    if (wildcard !== undefined && lacks(wildcard, qtype)) return;
  }
  throw missing(`no NSEC proves ${nameToText(qname)} has no such type`);
}

/** The NSEC at the name lacks the type and CNAME; for DS, it is the parent's (no SOA). */
function lacks(nsec: Nsec, qtype: number): boolean {
  if (bitmapHas(nsec.bitmap, qtype) || bitmapHas(nsec.bitmap, TYPE.CNAME)) return false;
  const parentSide = bitmapHas(nsec.bitmap, TYPE.NS) && !bitmapHas(nsec.bitmap, TYPE.SOA);
  if (qtype === TYPE.DS) return !bitmapHas(nsec.bitmap, TYPE.SOA) || labelCount(nsec.owner) === 0;
  return !parentSide;
}

/**
 * Proves that the next closer name of a wildcard expansion does not exist
 * (RFC 4035 §5.3.4).
 *
 * @throws {BogusError} EDE 12 when no NSEC covers it.
 */
export function proveWildcardNsec(nsecs: readonly Nsec[], qname: Name, zone: Name): void {
  if (covering(nsecs, qname, zone) === undefined) {
    throw missing(`no NSEC proves ${nameToText(qname)} was synthesised from a wildcard`);
  }
}

/**
 * What a negative answer to a DS query for `name` proves: a delegation
 * without DS (insecure), a name that is no zone cut, or no name at all.
 *
 * @throws {BogusError} When it proves nothing, or lists a DS.
 */
export function dsAbsenceNsec(nsecs: readonly Nsec[], name: Name, zone: Name): CutProof {
  const exact = matching(nsecs, name);
  if (exact !== undefined) {
    if (bitmapHas(exact.bitmap, TYPE.DS)) {
      throw new BogusError(
        DNSSEC_EDE.BOGUS,
        `NSEC at ${nameToText(name)} lists a DS yet none came`,
      );
    }
    const delegation = bitmapHas(exact.bitmap, TYPE.NS) && !bitmapHas(exact.bitmap, TYPE.SOA);
    return delegation ? "insecure-delegation" : "not-a-cut";
  }
  const cover = covering(nsecs, name, zone);
  if (cover === undefined) throw missing(`no NSEC proves ${nameToText(name)} has no DS`);
  return isSubdomain(cover.next, name) ? "not-a-cut" : "nonexistent";
}

function missing(reason: string): BogusError {
  return new BogusError(DNSSEC_EDE.NSEC_MISSING, reason);
}
