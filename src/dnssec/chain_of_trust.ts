/**
 * The chain of trust (RFC 4035 §5.1-5.2): from a trust anchor down to the
 * zone that signed an answer, one DS query per label and one DNSKEY query
 * per zone cut, each answer checked with the keys of the zone above.
 * Results are kept per name for their TTL (at most an hour; failures for
 * {@linkcode BOGUS_TTL} seconds, RFC 9520 §3), so that a warm chain costs
 * no query and no signature check.
 *
 * @module
 */

import { RCODE } from "../wire/constants.ts";
import { DNSSEC_EDE } from "./verdict.ts";
import { BogusError, InsecureError } from "./verdict.ts";
import {
  type DnsKey,
  dsDigest,
  isZoneKey,
  parseDnsKey,
  parseDs,
  SUPPORTED_ALGORITHMS,
  SUPPORTED_DIGESTS,
} from "./keys.ts";
import { ancestor, labelCount, type Name, nameKey, nameToText } from "./names.ts";
import { dsAbsenceNsec } from "./nsec.ts";
import { Nsec3Set } from "./nsec3.ts";
import { bytesEqual, TYPE } from "./records.ts";
import { decodeReply, findRrset, verifyDenial } from "./reply.ts";
import { verifyRrset } from "./rrset_verify.ts";
import type { TrustAnchor, TrustAnchors } from "./trust_anchors.ts";
import { DeadlineError, type WorkBudget } from "./work_budget.ts";

/** Seconds a failed link of the chain is remembered (RFC 9520 §3 asks for at least 1). */
export const BOGUS_TTL = 5;
/** Longest a link is remembered, whatever its TTL. */
const MAX_LINK_TTL = 3600;
/** Links remembered at most (oldest dropped first), failures included. */
export const MAX_LINKS = 10_000;

/** Fetches a record set's reply (DO=1, CD=1) through the proxy's upstream path. */
export interface ChainFetcher {
  /**
   * @param name The owner.
   * @param type DS or DNSKEY.
   * @param deadline The client query's deadline (`performance.now()` ms, Infinity for none):
   *   the fetch gets the time left, not a timeout of its own.
   * @returns The reply message, or null when no upstream answered.
   */
  fetch(name: Name, type: number, deadline: number): Promise<Uint8Array | null>;
}

/** Where a name's zone stands. */
export type ZoneTrust =
  | { readonly kind: "secure"; readonly zone: Name; readonly keys: readonly DnsKey[] }
  | { readonly kind: "insecure"; readonly reason: string; readonly ede?: number }
  | { readonly kind: "indeterminate"; readonly reason: string };

/** What is known about one name on the way down. */
type Link =
  | { readonly kind: "zone"; readonly keys: readonly DnsKey[] }
  | { readonly kind: "not-a-cut"; readonly nonexistent: boolean }
  | { readonly kind: "insecure"; readonly reason: string; readonly ede?: number }
  | { readonly kind: "bogus"; readonly ede: number; readonly reason: string };

interface Remembered {
  readonly link: Link;
  readonly expiresAt: number;
}

/** Settings of the chain. */
export interface ChainOfTrustOptions {
  readonly anchors: TrustAnchors;
  readonly fetcher: ChainFetcher;
  /** Clock in milliseconds. @default {Date.now} */
  readonly now?: () => number;
  /** Links remembered at most. @default {MAX_LINKS} */
  readonly maxLinks?: number;
}

/** Walks and remembers the chain of trust. */
export class ChainOfTrust {
  readonly #anchors: TrustAnchors;
  readonly #fetcher: ChainFetcher;
  readonly #now: () => number;
  readonly #maxLinks: number;
  /** In insertion order (a link found again moves to the end): the first is the oldest. */
  readonly #links = new Map<string, Remembered>();
  /** Links being worked out, shared by concurrent queries. */
  readonly #pending = new Map<string, Promise<Link>>();

  /** @param options Anchors, fetcher and clock. */
  constructor(options: ChainOfTrustOptions) {
    this.#anchors = options.anchors;
    this.#fetcher = options.fetcher;
    this.#now = options.now ?? Date.now;
    this.#maxLinks = Math.max(1, options.maxLinks ?? MAX_LINKS);
  }

  /** How many links are remembered (expired ones until looked up or pushed out). */
  get size(): number {
    return this.#links.size;
  }

  /**
   * The zone `name` is in, with its keys when it is secure.
   *
   * @param name The name (a signer, or the owner of unsigned data).
   * @param budget The query's work budget.
   * @returns Secure with the closest zone's keys, insecure (also under a negative trust
   *   anchor), or indeterminate without an anchor.
   * @throws {BogusError} When a link of the chain fails.
   * @throws {WorkLimitError} When a work bound is reached.
   * @throws {DeadlineError} When the budget's deadline passes before a fetch is answered.
   */
  async zoneOf(name: Name, budget: WorkBudget): Promise<ZoneTrust> {
    const anchor = this.#anchors.closest(name);
    if (anchor === undefined) return { kind: "indeterminate", reason: "no trust anchor" };
    // A CNAME target or signer inside a zone declared insecure (RFC 7646).
    const negative = this.#anchors.insecure(name);
    if (negative !== undefined) return { kind: "insecure", reason: negative.reason };
    let zone = anchor.zone;
    let keys: readonly DnsKey[] = [];
    let link = await this.#link(nameKey(zone) + "#anchor", () => this.#anchorLink(anchor, budget));
    for (let drop = labelCount(name) - labelCount(zone);; drop--) {
      if (link.kind === "bogus") throw new BogusError(link.ede, link.reason);
      if (link.kind === "insecure") {
        return link.ede === undefined
          ? { kind: "insecure", reason: link.reason }
          : { kind: "insecure", reason: link.reason, ede: link.ede };
      }
      if (link.kind === "zone") keys = link.keys;
      if ((link.kind === "not-a-cut" && link.nonexistent) || drop === 0) break;
      const child = ancestor(name, drop - 1);
      const parentZone = zone;
      const parentKeys = keys;
      link = await this.#link(
        nameKey(child),
        () => this.#cutLink(child, parentZone, parentKeys, budget),
      );
      if (link.kind === "zone") zone = child;
    }
    return { kind: "secure", zone, keys };
  }

  /** A remembered link, or the one `work` finds (once for concurrent callers). */
  async #link(key: string, work: () => Promise<Remembered>): Promise<Link> {
    const known = this.#links.get(key);
    if (known !== undefined) {
      if (known.expiresAt > this.#now()) return known.link;
      this.#links.delete(key);
    }
    let pending = this.#pending.get(key);
    if (pending === undefined) {
      pending = work().then((found) => this.#remember(key, found), (error) => {
        if (!(error instanceof BogusError)) throw error;
        const link: Link = { kind: "bogus", ede: error.ede, reason: error.message };
        return this.#remember(key, { link, expiresAt: this.#now() + BOGUS_TTL * 1000 });
      }).finally(() => this.#pending.delete(key));
      this.#pending.set(key, pending);
    }
    return await pending;
  }

  /**
   * Keeps a link, found or failed, within {@linkcode ChainOfTrustOptions.maxLinks}: the oldest
   * goes first. (Names a zone owner makes clients ask must not grow the map without bound.)
   */
  #remember(key: string, found: Remembered): Link {
    this.#links.delete(key);
    while (this.#links.size >= this.#maxLinks) {
      this.#links.delete(this.#links.keys().next().value!);
    }
    this.#links.set(key, found);
    return found.link;
  }

  #until(ttl: number): number {
    return this.#now() + Math.min(Math.max(ttl, 1), MAX_LINK_TTL) * 1000;
  }

  /** The anchor zone's DNSKEY RRset, checked against the anchor's DS or DNSKEY records. */
  async #anchorLink(anchor: TrustAnchor, budget: WorkBudget): Promise<Remembered> {
    const usableDs = anchor.ds.filter((ds) =>
      SUPPORTED_ALGORITHMS.has(ds.algorithm) && SUPPORTED_DIGESTS.has(ds.digestType)
    );
    const usableKeys = anchor.keys.filter((key) => SUPPORTED_ALGORITHMS.has(key.algorithm));
    if (usableDs.length === 0 && usableKeys.length === 0) {
      const link: Link = {
        kind: "insecure",
        reason: `no supported algorithm in the anchor for ${nameToText(anchor.zone)}`,
        ede: DNSSEC_EDE.UNSUPPORTED_DNSKEY_ALGORITHM,
      };
      return { link, expiresAt: this.#until(MAX_LINK_TTL) };
    }
    const { keys, ttl } = await this.#dnskeys(
      anchor.zone,
      async (key) =>
        usableKeys.some((anchorKey) => bytesEqual(anchorKey.rdata, key.rdata)) ||
        await matchesDs(anchor.zone, key, usableDs),
      budget,
    );
    return { link: { kind: "zone", keys }, expiresAt: this.#until(ttl) };
  }

  /** The DNSKEY RRset of a zone, verified by a key that `trusted` accepts. */
  async #dnskeys(
    zone: Name,
    trusted: (key: DnsKey) => Promise<boolean>,
    budget: WorkBudget,
  ): Promise<{ keys: DnsKey[]; ttl: number }> {
    const message = await this.#fetch(zone, TYPE.DNSKEY, budget);
    const reply = decodeReply(message);
    const set = findRrset(reply.answer, zone, TYPE.DNSKEY);
    if (set === undefined) {
      throw new BogusError(DNSSEC_EDE.DNSKEY_MISSING, `no DNSKEY for ${nameToText(zone)}`);
    }
    const keys = set.records.map((record) => parseDnsKey(record.rdata)).filter((key) =>
      key !== null
    )
      .filter(isZoneKey);
    const entry: DnsKey[] = [];
    for (const key of keys) if (await trusted(key)) entry.push(key);
    if (entry.length === 0) {
      throw new BogusError(
        DNSSEC_EDE.DNSKEY_MISSING,
        `no DNSKEY of ${nameToText(zone)} matches its DS`,
      );
    }
    const verified = await verifyRrset(set, zone, entry, this.#seconds(), budget);
    return { keys, ttl: verified.ttl };
  }

  /** The link at `child`, one label below a secure `zone`: from its DS (or proof of none). */
  async #cutLink(
    child: Name,
    zone: Name,
    keys: readonly DnsKey[],
    budget: WorkBudget,
  ): Promise<Remembered> {
    const reply = decodeReply(await this.#fetch(child, TYPE.DS, budget));
    const ds = findRrset(reply.answer, child, TYPE.DS);
    const now = this.#seconds();
    if (reply.rcode === RCODE.NOERROR && ds !== undefined) {
      const verified = await verifyRrset(ds, zone, keys, now, budget);
      const all = ds.records.map((record) => parseDs(record.rdata)).filter((d) => d !== null);
      const usable = all.filter((d) =>
        SUPPORTED_ALGORITHMS.has(d.algorithm) && SUPPORTED_DIGESTS.has(d.digestType)
      );
      if (usable.length === 0) {
        const ede = all.some((d) => SUPPORTED_ALGORITHMS.has(d.algorithm))
          ? DNSSEC_EDE.UNSUPPORTED_DS_DIGEST
          : DNSSEC_EDE.UNSUPPORTED_DNSKEY_ALGORITHM;
        const link: Link = {
          kind: "insecure",
          reason: `unsupported DS of ${nameToText(child)}`,
          ede,
        };
        return { link, expiresAt: this.#until(verified.ttl) };
      }
      const found = await this.#dnskeys(child, (key) => matchesDs(child, key, usable), budget);
      return {
        link: { kind: "zone", keys: found.keys },
        expiresAt: this.#until(Math.min(verified.ttl, found.ttl)),
      };
    }
    const cname = findRrset(reply.answer, child, TYPE.CNAME);
    if (cname !== undefined) {
      const verified = await verifyRrset(cname, zone, keys, now, budget);
      return {
        link: { kind: "not-a-cut", nonexistent: false },
        expiresAt: this.#until(verified.ttl),
      };
    }
    if (reply.rcode !== RCODE.NOERROR && reply.rcode !== RCODE.NXDOMAIN) {
      throw new BogusError(
        DNSSEC_EDE.OTHER,
        `DS query for ${nameToText(child)} answered rcode ${reply.rcode}`,
      );
    }
    const denial = await verifyDenial(reply.authority, zone, keys, now, budget);
    let proof;
    try {
      if (denial.nsecs.length > 0) proof = dsAbsenceNsec(denial.nsecs, child, zone);
      else if (denial.nsec3s.length > 0) {
        proof = new Nsec3Set(denial.nsec3s, zone, budget).dsAbsence(child);
      } else {throw new BogusError(
          DNSSEC_EDE.NSEC_MISSING,
          `no NSEC or NSEC3 proves ${nameToText(child)} has no DS`,
        );}
    } catch (error) {
      if (!(error instanceof InsecureError)) throw error;
      const link: Link = error.ede === undefined
        ? { kind: "insecure", reason: error.message }
        : { kind: "insecure", reason: error.message, ede: error.ede };
      return { link, expiresAt: this.#until(denial.ttl) };
    }
    const link: Link = proof === "insecure-delegation"
      ? { kind: "insecure", reason: `${nameToText(child)} is delegated without DS` }
      : { kind: "not-a-cut", nonexistent: proof === "nonexistent" };
    return { link, expiresAt: this.#until(denial.ttl) };
  }

  /**
   * A DS or DNSKEY reply, within the query's deadline: past it, a
   * {@linkcode DeadlineError} (not remembered as a failed link: the link is
   * not known to be bad, this query only has no time left).
   */
  async #fetch(name: Name, type: number, budget: WorkBudget): Promise<Uint8Array> {
    const what = `${nameToText(name)} ${type === TYPE.DS ? "DS" : "DNSKEY"}`;
    const { deadline } = budget;
    const left = deadline - performance.now();
    if (left <= 0) throw new DeadlineError(what);
    const fetching = this.#fetcher.fetch(name, type, deadline);
    let message: Uint8Array | null;
    if (deadline === Infinity) message = await fetching;
    else {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new DeadlineError(what)), left);
      });
      try {
        message = await Promise.race([fetching, late]);
      } finally {
        clearTimeout(timer);
      }
    }
    if (message === null) throw new BogusError(DNSSEC_EDE.OTHER, `no answer for ${what}`);
    return message;
  }

  #seconds(): number {
    return Math.floor(this.#now() / 1000);
  }
}

/** Whether a key matches one of the DS records (tag, algorithm and digest). */
async function matchesDs(
  owner: Name,
  key: DnsKey,
  dsSet: readonly { keyTag: number; algorithm: number; digestType: number; digest: Uint8Array }[],
): Promise<boolean> {
  for (const ds of dsSet) {
    if (ds.keyTag !== key.keyTag || ds.algorithm !== key.algorithm) continue;
    const digest = await dsDigest(owner, key, ds.digestType);
    if (digest !== null && bytesEqual(digest, ds.digest)) return true;
  }
  return false;
}
