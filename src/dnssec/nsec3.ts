/**
 * Denial of existence with NSEC3 (RFC 5155 §8, RFC 9276): hashed owner
 * names, closest encloser proofs and opt-out. Records given are already
 * verified with the zone's keys. Hashing is bounded per query (see
 * work_budget.ts), and zones using more than {@linkcode MAX_NSEC3_ITERATIONS}
 * extra iterations are treated as insecure (RFC 9276 §3.2).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { readU16 } from "../wire/header.ts";
import {
  ancestor,
  compareBytes,
  labelCount,
  labels,
  type Name,
  namesEqual,
  nameToText,
  wildcardOf,
} from "./names.ts";
import { bitmapHas, bytesEqual, type Record, TYPE } from "./records.ts";
import type { CutProof } from "./nsec.ts";
import { BogusError, DNSSEC_EDE, InsecureError } from "./verdict.ts";
import type { WorkBudget } from "./work_budget.ts";

/**
 * Above this many extra iterations a zone's NSEC3 proofs make its answers
 * insecure rather than secure. RFC 9276 §3.2 lets validators pick the
 * bound; Unbound and BIND pick 150 for insecure; we pick 100, the figure
 * RFC 9276 §6 gives as what operators had already converged on, leaving
 * each proof at most 101 SHA-1 rounds per hash.
 */
export const MAX_NSEC3_ITERATIONS = 100;

const OPT_OUT = 0x01;

/** An NSEC3 record's fields. */
export interface Nsec3 {
  readonly owner: Name;
  /** The hash in the owner's first label, decoded. */
  readonly ownerHash: Uint8Array;
  readonly hashAlgorithm: number;
  readonly optOut: boolean;
  readonly iterations: number;
  readonly salt: Uint8Array;
  readonly nextHash: Uint8Array;
  readonly bitmap: Uint8Array;
}

/**
 * Reads an NSEC3 record; null when malformed, of an unknown hash, or with
 * flags other than opt-out (RFC 5155 §8.2).
 */
export function parseNsec3(record: Record): Nsec3 | null {
  const r = record.rdata;
  if (r.length < 5) return null;
  const saltLength = r[4]!;
  const hashAt = 5 + saltLength;
  if (hashAt >= r.length) return null;
  const hashLength = r[hashAt]!;
  const bitmapAt = hashAt + 1 + hashLength;
  if (bitmapAt > r.length) return null;
  const first = labels(record.owner)[0];
  const ownerHash = first === undefined ? null : base32HexDecode(first);
  if (ownerHash === null || r[0] !== 1 || (r[1]! & ~OPT_OUT) !== 0) return null;
  return {
    owner: record.owner,
    ownerHash,
    hashAlgorithm: r[0]!,
    optOut: (r[1]! & OPT_OUT) !== 0,
    iterations: readU16(r, 2),
    salt: r.slice(5, hashAt),
    nextHash: r.slice(hashAt + 1, bitmapAt),
    bitmap: r.subarray(bitmapAt),
  };
}

const BASE32HEX = "0123456789abcdefghijklmnopqrstuv";

/** Decodes base32hex without padding (RFC 4648 §7), case-insensitively; null when invalid. */
export function base32HexDecode(text: Uint8Array): Uint8Array | null {
  const out: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const byte of text) {
    const value = BASE32HEX.indexOf(String.fromCharCode(byte | 0x20));
    if (value < 0) return null;
    buffer = (buffer << 5) | value;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((buffer >>> bits) & 0xff);
    }
  }
  return new Uint8Array(out);
}

/** The NSEC3 records of one zone and the hashes computed for them in this query. */
export class Nsec3Set {
  readonly #records: readonly Nsec3[];
  readonly #zone: Name;
  readonly #budget: WorkBudget;
  readonly #hashes = new Map<string, Uint8Array>();

  /**
   * @param records Verified NSEC3 records of the zone.
   * @param zone The zone.
   * @param budget The query's work budget.
   * @throws {InsecureError} When the zone uses more than {@linkcode MAX_NSEC3_ITERATIONS}.
   */
  constructor(records: readonly Nsec3[], zone: Name, budget: WorkBudget) {
    const own = records.filter((n) => namesEqual(ancestor(n.owner, 1), zone));
    const heavy = own.find((n) => n.iterations > MAX_NSEC3_ITERATIONS);
    if (heavy !== undefined) {
      throw new InsecureError(
        `NSEC3 iterations ${heavy.iterations} above ${MAX_NSEC3_ITERATIONS} in ${nameToText(zone)}`,
        DNSSEC_EDE.UNSUPPORTED_NSEC3_ITERATIONS,
      );
    }
    this.#records = own;
    this.#zone = zone;
    this.#budget = budget;
  }

  /** Whether the set has any record. */
  get empty(): boolean {
    return this.#records.length === 0;
  }

  /**
   * H(name) with the record's salt and iterations (RFC 5155 §5). Hashed
   * synchronously: at most 101 SHA-1 rounds over a few dozen octets take
   * microseconds, less than one per round would.
   */
  #hash(name: Name, params: Nsec3): Uint8Array {
    const id = `${params.iterations}:${String.fromCharCode(...params.salt)}:${
      String.fromCharCode(...name)
    }`;
    const known = this.#hashes.get(id);
    if (known !== undefined) return known;
    this.#budget.spendHash();
    let digest = sha1(concat(name, params.salt));
    for (let i = 0; i < params.iterations; i++) digest = sha1(concat(digest, params.salt));
    this.#hashes.set(id, digest);
    return digest;
  }

  /** The record whose owner hashes `name`. */
  match(name: Name): Nsec3 | undefined {
    for (const record of this.#records) {
      if (bytesEqual(record.ownerHash, this.#hash(name, record))) return record;
    }
    return undefined;
  }

  /** The record whose hash interval covers `name`. */
  cover(name: Name): Nsec3 | undefined {
    for (const record of this.#records) {
      const hash = this.#hash(name, record);
      const afterOwner = compareBytes(hash, record.ownerHash) > 0;
      const beforeNext = compareBytes(hash, record.nextHash) < 0;
      const wraps = compareBytes(record.nextHash, record.ownerHash) <= 0;
      if (wraps ? afterOwner || beforeNext : afterOwner && beforeNext) return record;
    }
    return undefined;
  }

  /**
   * The closest encloser proof for a name that has no NSEC3 of its own
   * (RFC 5155 §8.3): an ancestor that matches, and a cover for the next
   * closer name.
   *
   * @throws {BogusError} EDE 12 when there is none.
   */
  closestEncloser(name: Name): { encloser: Name; cover: Nsec3 } {
    const depth = labelCount(name);
    for (let drop = 1; drop <= depth - labelCount(this.#zone); drop++) {
      const candidate = ancestor(name, drop);
      const match = this.match(candidate);
      if (match === undefined) continue;
      if (
        bitmapHas(match.bitmap, TYPE.DNAME) ||
        (bitmapHas(match.bitmap, TYPE.NS) && !bitmapHas(match.bitmap, TYPE.SOA))
      ) {
        throw missing(`NSEC3 closest encloser of ${nameToText(name)} is a delegation`);
      }
      const nextCloser = ancestor(name, drop - 1);
      const cover = this.cover(nextCloser);
      if (cover === undefined) throw missing(`no NSEC3 covers ${nameToText(nextCloser)}`);
      return { encloser: candidate, cover };
    }
    throw missing(`no NSEC3 closest encloser for ${nameToText(name)}`);
  }

  /**
   * Proves NXDOMAIN (RFC 5155 §8.4).
   *
   * @throws {BogusError} EDE 12 without proof.
   * @throws {InsecureError} When the next closer falls in an opt-out span.
   */
  proveNxdomain(qname: Name): void {
    if (this.match(qname) !== undefined) {
      throw new BogusError(DNSSEC_EDE.BOGUS, `NSEC3 shows ${nameToText(qname)} exists`);
    }
    const { encloser, cover } = this.closestEncloser(qname);
    if (this.cover(wildcardOf(encloser)) === undefined) {
      throw missing(`no NSEC3 denies the wildcard at ${nameToText(encloser)}`);
    }
    if (cover.optOut) throw new InsecureError(`NXDOMAIN in an NSEC3 opt-out span`);
  }

  /**
   * Proves NODATA (RFC 5155 §8.5-8.7): a matching NSEC3 without the type,
   * a wildcard's, or for DS an opt-out span.
   *
   * @throws {BogusError} EDE 12 without proof.
   * @throws {InsecureError} For a DS in an opt-out span.
   */
  proveNodata(qname: Name, qtype: number): void {
    const exact = this.match(qname);
    if (exact !== undefined) {
      if (bitmapHas(exact.bitmap, qtype) || bitmapHas(exact.bitmap, TYPE.CNAME)) {
        throw new BogusError(
          DNSSEC_EDE.BOGUS,
          `NSEC3 at ${nameToText(qname)} lists the type denied`,
        );
      }
      return;
    }
    const { encloser, cover } = this.closestEncloser(qname);
    if (qtype === TYPE.DS && cover.optOut) throw new InsecureError("DS in an NSEC3 opt-out span");
    const wildcard = this.match(wildcardOf(encloser));
    if (
      wildcard !== undefined && !bitmapHas(wildcard.bitmap, qtype) &&
      !bitmapHas(wildcard.bitmap, TYPE.CNAME)
    ) {
      return;
    }
    throw missing(`no NSEC3 proves ${nameToText(qname)} has no such type`);
  }

  /**
   * Proves that a wildcard answer's next closer name does not exist
   * (RFC 5155 §8.8).
   *
   * @param qname The name asked.
   * @param encloser The closest encloser the RRSIG's label count shows.
   * @throws {BogusError} EDE 12 without proof.
   */
  proveWildcard(qname: Name, encloser: Name): void {
    const nextCloser = ancestor(qname, labelCount(qname) - labelCount(encloser) - 1);
    if (this.cover(nextCloser) === undefined) {
      throw missing(`no NSEC3 proves ${nameToText(qname)} was synthesised from a wildcard`);
    }
  }

  /**
   * What a negative answer to a DS query proves about `name` (see
   * {@linkcode CutProof}); opt-out counts as an insecure delegation.
   *
   * @throws {BogusError} When it proves nothing, or lists a DS.
   */
  dsAbsence(name: Name): CutProof {
    const exact = this.match(name);
    if (exact !== undefined) {
      if (bitmapHas(exact.bitmap, TYPE.DS)) {
        throw new BogusError(
          DNSSEC_EDE.BOGUS,
          `NSEC3 at ${nameToText(name)} lists a DS yet none came`,
        );
      }
      const delegation = bitmapHas(exact.bitmap, TYPE.NS) && !bitmapHas(exact.bitmap, TYPE.SOA);
      return delegation ? "insecure-delegation" : "not-a-cut";
    }
    const { cover } = this.closestEncloser(name);
    return cover.optOut ? "insecure-delegation" : "nonexistent";
  }
}

function sha1(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha1").update(data).digest());
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function missing(reason: string): BogusError {
  return new BogusError(DNSSEC_EDE.NSEC_MISSING, reason);
}
