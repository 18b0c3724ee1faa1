/**
 * Verifying an RRset's signatures with a zone's keys (RFC 4035 §5.3):
 * the RRSIG must name the zone, be in its validity period, carry a label
 * count the owner allows and verify over the RRset in canonical form
 * (RFC 4034 §3.1.8.1, §6.2, §6.3). Work per RRset is bounded (see
 * work_budget.ts).
 *
 * @module
 */

import { writeU16, writeU32 } from "../wire/header.ts";
import { type DnsKey, isZoneKey, SUPPORTED_ALGORITHMS, verifySignature } from "./keys.ts";
import { ancestor, isWildcard, labelCount, type Name, namesEqual, wildcardOf } from "./names.ts";
import { bytesEqual, type Rrset, type Rrsig } from "./records.ts";
import { BogusError, DNSSEC_EDE } from "./verdict.ts";
import { type WorkBudget, WorkLimitError } from "./work_budget.ts";

/** A verified RRset. */
export interface Verified {
  /** The RRSIG that verified it. */
  readonly rrsig: Rrsig;
  /** Seconds it may be trusted: its TTL, the RRSIG's original TTL and expiry. */
  readonly ttl: number;
  /** When the RRSIG shows wildcard expansion: the wildcard's closest encloser. */
  readonly wildcardOf?: Name;
}

/** RFC 1982 serial comparison of 32-bit times: a before or at b. */
function serialLte(a: number, b: number): boolean {
  return a === b || ((b - a) >>> 0) < 0x80000000;
}

/**
 * Verifies an RRset with a zone's keys.
 *
 * @param rrset The RRset and its RRSIGs.
 * @param zone The zone whose keys these are (RRSIG signer must equal it).
 * @param keys The zone's validated DNSKEYs.
 * @param now Current time in seconds since the epoch.
 * @param budget The query's work budget.
 * @returns What verified it.
 * @throws {BogusError} When no RRSIG verifies, with the most telling EDE.
 * @throws {WorkLimitError} When a work bound is reached.
 */
export async function verifyRrset(
  rrset: Rrset,
  zone: Name,
  keys: readonly DnsKey[],
  now: number,
  budget: WorkBudget,
): Promise<Verified> {
  if (rrset.rrsigs.length === 0) {
    throw new BogusError(DNSSEC_EDE.RRSIGS_MISSING, `no RRSIG for ${describe(rrset)}`);
  }
  const limits = budget.limits;
  let failure: BogusError | null = null;
  const note = (error: BogusError) => {
    if (failure === null || rank(error.ede) > rank(failure.ede)) failure = error;
  };
  let tried = 0;
  const owner = rrset.owner;
  const ownerLabels = labelCount(owner) - (isWildcard(owner) ? 1 : 0);
  const nowSerial = now >>> 0;
  for (const rrsig of rrset.rrsigs) {
    if (!namesEqual(rrsig.signer, zone) || !SUPPORTED_ALGORITHMS.has(rrsig.algorithm)) continue;
    if (rrsig.labels > ownerLabels) {
      note(new BogusError(DNSSEC_EDE.BOGUS, `RRSIG label count too large for ${describe(rrset)}`));
      continue;
    }
    if (!serialLte(nowSerial, rrsig.expiration)) {
      note(new BogusError(DNSSEC_EDE.SIGNATURE_EXPIRED, `RRSIG for ${describe(rrset)} expired`));
      continue;
    }
    if (!serialLte(rrsig.inception, nowSerial)) {
      note(
        new BogusError(
          DNSSEC_EDE.SIGNATURE_NOT_YET_VALID,
          `RRSIG for ${describe(rrset)} not yet valid`,
        ),
      );
      continue;
    }
    const candidates = keys.filter((key) =>
      key.keyTag === rrsig.keyTag && key.algorithm === rrsig.algorithm && isZoneKey(key)
    );
    if (candidates.length === 0) {
      note(
        new BogusError(
          DNSSEC_EDE.DNSKEY_MISSING,
          `no DNSKEY with tag ${rrsig.keyTag} for ${describe(rrset)}`,
        ),
      );
      continue;
    }
    if (++tried > limits.maxSignaturesPerRrset) {
      throw new WorkLimitError("maxSignaturesPerRrset", limits.maxSignaturesPerRrset);
    }
    const data = signedData(rrset, rrsig);
    for (const [index, key] of candidates.entries()) {
      if (index >= limits.maxKeysPerSignature) {
        throw new WorkLimitError("maxKeysPerSignature", limits.maxKeysPerSignature);
      }
      budget.spendValidation();
      if (await verifySignature(key, rrsig.signature, data)) {
        return verified(rrset, rrsig, ownerLabels, nowSerial);
      }
    }
    note(new BogusError(DNSSEC_EDE.BOGUS, `bad signature on ${describe(rrset)}`));
  }
  throw failure ??
    new BogusError(DNSSEC_EDE.RRSIGS_MISSING, `no usable RRSIG for ${describe(rrset)}`);
}

/** Precedence of failures: a signature that fails to verify says the most. */
function rank(ede: number): number {
  return [
    DNSSEC_EDE.RRSIGS_MISSING,
    DNSSEC_EDE.DNSKEY_MISSING,
    DNSSEC_EDE.SIGNATURE_NOT_YET_VALID,
    DNSSEC_EDE.SIGNATURE_EXPIRED,
    DNSSEC_EDE.BOGUS,
  ]
    .indexOf(ede as 6);
}

function verified(rrset: Rrset, rrsig: Rrsig, ownerLabels: number, now: number): Verified {
  let ttl = Math.min(rrsig.originalTtl, rrsig.ttl, (rrsig.expiration - now) >>> 0);
  for (const record of rrset.records) ttl = Math.min(ttl, record.ttl);
  if (rrsig.labels < ownerLabels && !isWildcard(rrset.owner)) {
    return {
      rrsig,
      ttl,
      wildcardOf: ancestor(rrset.owner, labelCount(rrset.owner) - rrsig.labels),
    };
  }
  return { rrsig, ttl };
}

/**
 * The data an RRSIG signs (RFC 4034 §3.1.8.1): its RDATA without the
 * signature, then each record in canonical order with the original TTL
 * and, for a wildcard expansion, the wildcard owner.
 */
export function signedData(rrset: Rrset, rrsig: Rrsig): Uint8Array {
  let owner = rrset.owner;
  const ownerLabels = labelCount(owner);
  if (rrsig.labels < ownerLabels) owner = wildcardOf(ancestor(owner, ownerLabels - rrsig.labels));
  const records = [...rrset.records].sort((a, b) => compareRdata(a.rdata, b.rdata));
  const unique = records.filter((record, i) =>
    i === 0 || !bytesEqual(record.rdata, records[i - 1]!.rdata)
  );
  let length = rrsig.signedPart.length;
  for (const record of unique) length += owner.length + 10 + record.rdata.length;
  const data = new Uint8Array(length);
  data.set(rrsig.signedPart);
  let at = rrsig.signedPart.length;
  for (const record of unique) {
    data.set(owner, at);
    at += owner.length;
    writeU16(data, at, rrset.type);
    writeU16(data, at + 2, rrset.klass);
    writeU32(data, at + 4, rrsig.originalTtl);
    writeU16(data, at + 8, record.rdata.length);
    data.set(record.rdata, at + 10);
    at += 10 + record.rdata.length;
  }
  return data;
}

/** Canonical RR order: RDATA as left-justified octet strings (RFC 4034 §6.3). */
function compareRdata(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** `owner/TYPE` for messages. */
export function describe(rrset: { owner: Name; type: number }): string {
  return `${nameText(rrset.owner)}/${typeText(rrset.type)}`;
}

import { nameToText as nameText } from "./names.ts";

const TYPE_TEXT: ReadonlyMap<number, string> = new Map([
  [1, "A"],
  [2, "NS"],
  [5, "CNAME"],
  [6, "SOA"],
  [15, "MX"],
  [16, "TXT"],
  [28, "AAAA"],
  [39, "DNAME"],
  [43, "DS"],
  [46, "RRSIG"],
  [47, "NSEC"],
  [48, "DNSKEY"],
  [50, "NSEC3"],
]);

/** Mnemonic of a type, `TYPEn` for the rest. */
export function typeText(type: number): string {
  return TYPE_TEXT.get(type) ?? `TYPE${type}`;
}
