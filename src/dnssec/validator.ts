/**
 * Validates one upstream reply (RFC 4035 §5): each RRset of the answer
 * (following CNAMEs) with the keys of the zone that signed it, wildcard
 * expansions with a proof that the name asked does not exist, and negative
 * answers with NSEC or NSEC3 proofs, the chain of trust fetched and checked
 * on the way (chain_of_trust.ts).
 *
 * @module
 */

import { RCODE } from "../wire/constants.ts";
import { type ChainFetcher, ChainOfTrust, type ZoneTrust } from "./chain_of_trust.ts";
import {
  isSubdomain,
  labelCount,
  type Name,
  namesEqual,
  nameToText,
  parent,
  readName,
} from "./names.ts";
import { proveNodataNsec, proveNxdomainNsec, proveWildcardNsec } from "./nsec.ts";
import { Nsec3Set } from "./nsec3.ts";
import type { Rrset } from "./records.ts";
import { TYPE } from "./records.ts";
import { authoritySigner, decodeReply, type Reply, verifyDenial } from "./reply.ts";
import { describe, verifyRrset } from "./rrset_verify.ts";
import type { TrustAnchors } from "./trust_anchors.ts";
import { BogusError, DNSSEC_EDE, InsecureError, type Verdict } from "./verdict.ts";
import {
  DeadlineError,
  DEFAULT_WORK_LIMITS,
  WorkBudget,
  WorkLimitError,
  type WorkLimits,
} from "./work_budget.ts";

/** CNAMEs followed in one answer at most. */
const MAX_CNAMES = 16;

/** Settings of the validator. */
export interface ValidatorOptions {
  readonly anchors: TrustAnchors;
  /** Fetches DS and DNSKEY replies through the upstreams. */
  readonly fetcher: ChainFetcher;
  readonly limits?: WorkLimits;
  /** Clock in milliseconds. @default {Date.now} */
  readonly now?: () => number;
}

/** Validates replies against the trust anchors. */
export class Validator {
  readonly #chain: ChainOfTrust;
  readonly #anchors: TrustAnchors;
  readonly #limits: WorkLimits;
  readonly #now: () => number;

  /** @param options Anchors, fetcher, limits, clock. */
  constructor(options: ValidatorOptions) {
    this.#anchors = options.anchors;
    this.#limits = options.limits ?? DEFAULT_WORK_LIMITS;
    this.#now = options.now ?? Date.now;
    this.#chain = new ChainOfTrust({
      anchors: options.anchors,
      fetcher: options.fetcher,
      now: this.#now,
    });
  }

  /**
   * Whether a name is under a negative trust anchor (RFC 7646), checked
   * before the reply is decoded: answers for such names are insecure.
   *
   * @param key The name's key (the cache key's name: lower-case wire form).
   * @returns Why the name is insecure, or undefined when it is validated.
   */
  insecureReason(key: string): string | undefined {
    return this.#anchors.insecure(key)?.reason;
  }

  /**
   * Validates a reply.
   *
   * @param message The upstream's reply (its OPT record may be there or not).
   * @param forwardZone When the name is routed to a `--forward-zone`, that
   *   zone: without an anchor at or below it the answer is insecure
   *   (RFC 7646, a negative trust anchor in effect).
   * @param deadline The client query's deadline (`performance.now()` ms): the chain's fetches
   *   share the time left; past it the answer is bogus with EDE 22 (No Reachable Authority).
   * @returns The verdict; never throws for bad data.
   */
  async validate(
    message: Uint8Array,
    forwardZone?: Name,
    deadline = Infinity,
  ): Promise<Verdict> {
    let reply: Reply;
    try {
      reply = decodeReply(message);
    } catch (error) {
      return {
        state: "bogus",
        ede: DNSSEC_EDE.OTHER,
        reason: `malformed reply: ${(error as Error).message}`,
      };
    }
    if (reply.rcode !== RCODE.NOERROR && reply.rcode !== RCODE.NXDOMAIN) {
      return { state: "indeterminate", reason: `rcode ${reply.rcode}` };
    }
    const anchor = this.#anchors.closest(reply.qname);
    if (anchor === undefined) return { state: "indeterminate", reason: "no trust anchor" };
    if (forwardZone !== undefined && !isSubdomain(anchor.zone, forwardZone)) {
      return {
        state: "insecure",
        reason: `forward zone ${nameToText(forwardZone)} has no trust anchor`,
      };
    }
    const budget = new WorkBudget(this.#limits, deadline);
    try {
      return await new Check(this.#chain, reply, budget, Math.floor(this.#now() / 1000)).run();
    } catch (error) {
      if (error instanceof BogusError) {
        return { state: "bogus", ede: error.ede, reason: error.message };
      }
      if (error instanceof InsecureError) {
        return error.ede === undefined
          ? { state: "insecure", reason: error.message }
          : { state: "insecure", ede: error.ede, reason: error.message };
      }
      if (error instanceof WorkLimitError) {
        return { state: "bogus", ede: DNSSEC_EDE.OTHER, reason: error.message };
      }
      if (error instanceof DeadlineError) {
        return { state: "bogus", ede: DNSSEC_EDE.NO_REACHABLE_AUTHORITY, reason: error.message };
      }
      throw error;
    }
  }
}

/** The checks of one reply. */
class Check {
  readonly #chain: ChainOfTrust;
  readonly #reply: Reply;
  readonly #budget: WorkBudget;
  readonly #now: number;
  /** Set when some part was proven insecure. */
  #insecure: string | null = null;
  /** The smallest TTL of what was verified, capped by signature expirations. */
  #ttl = Infinity;

  constructor(chain: ChainOfTrust, reply: Reply, budget: WorkBudget, now: number) {
    this.#chain = chain;
    this.#reply = reply;
    this.#budget = budget;
    this.#now = now;
  }

  async run(): Promise<Verdict> {
    const { answer, qtype, rcode } = this.#reply;
    let sname = this.#reply.qname;
    for (let step = 0; step <= MAX_CNAMES; step++) {
      const direct = answer.find((set) =>
        namesEqual(set.owner, sname) && (set.type === qtype || qtype === TYPE.ANY)
      );
      if (direct !== undefined) {
        for (const set of answer) {
          if (namesEqual(set.owner, sname) && (set.type === qtype || qtype === TYPE.ANY)) {
            await this.#positive(set);
          }
        }
        return this.#verdict();
      }
      const cname = answer.find((set) => namesEqual(set.owner, sname) && set.type === TYPE.CNAME);
      const dname = answer.find((set) =>
        set.type === TYPE.DNAME && isSubdomain(sname, set.owner) && !namesEqual(sname, set.owner)
      );
      if (cname === undefined && dname === undefined) break;
      if (dname !== undefined) await this.#positive(dname);
      // A CNAME synthesised from a DNAME is unsigned (RFC 6672 §5.3.3); it is trusted when the DNAME is.
      if (cname !== undefined && (dname === undefined || cname.rrsigs.length > 0)) {
        await this.#positive(cname);
      }
      if (cname === undefined) break;
      sname = readName(cname.records[0]!.rdata, 0);
    }
    if (
      rcode === RCODE.NOERROR &&
      answer.some((set) => set.type === qtype && namesEqual(set.owner, sname))
    ) {
      return this.#verdict();
    }
    await this.#negative(sname);
    return this.#verdict();
  }

  #verdict(): Verdict {
    if (this.#insecure !== null) return { state: "insecure", reason: this.#insecure };
    return this.#ttl === Infinity ? { state: "secure" } : { state: "secure", ttl: this.#ttl };
  }

  #verified<T extends { readonly ttl: number }>(found: T): T {
    this.#ttl = Math.min(this.#ttl, found.ttl);
    return found;
  }

  /** The zone of signed data: the signer's, which must be a zone apex above the owner. */
  async #signerZone(owner: Name, signer: Name | undefined, ds: boolean): Promise<ZoneTrust> {
    const unsignedAt = ds ? parent(owner) : owner;
    const trust = await this.#chain.zoneOf(signer ?? unsignedAt, this.#budget);
    if (trust.kind !== "secure" || signer === undefined) return trust;
    if (!namesEqual(trust.zone, signer)) {
      throw new BogusError(DNSSEC_EDE.BOGUS, `signer ${nameToText(signer)} is not a zone apex`);
    }
    return trust;
  }

  async #positive(set: Rrset): Promise<void> {
    const ds = set.type === TYPE.DS;
    const signers = set.rrsigs.filter((rrsig) =>
      isSubdomain(set.owner, rrsig.signer) && !(ds && namesEqual(set.owner, rrsig.signer))
    );
    const trust = await this.#signerZone(set.owner, signers[0]?.signer, ds);
    if (trust.kind !== "secure") return this.#markInsecure(trust.reason);
    if (signers.length === 0) {
      throw new BogusError(DNSSEC_EDE.RRSIGS_MISSING, `no RRSIG for ${describe(set)}`);
    }
    const verified = this.#verified(
      await verifyRrset(set, trust.zone, trust.keys, this.#now, this.#budget),
    );
    if (verified.wildcardOf === undefined) return;
    // A wildcard expansion: the name asked must be proven not to exist (RFC 4035 §5.3.4).
    const denial = this.#verified(
      await verifyDenial(
        this.#reply.authority,
        trust.zone,
        trust.keys,
        this.#now,
        this.#budget,
      ),
    );
    if (denial.nsecs.length > 0) return proveWildcardNsec(denial.nsecs, set.owner, trust.zone);
    if (denial.nsec3s.length > 0) {
      return new Nsec3Set(denial.nsec3s, trust.zone, this.#budget).proveWildcard(
        set.owner,
        verified.wildcardOf,
      );
    }
    throw new BogusError(
      DNSSEC_EDE.NSEC_MISSING,
      `no proof for the wildcard answer ${describe(set)}`,
    );
  }

  async #negative(sname: Name): Promise<void> {
    const { authority, rcode } = this.#reply;
    const qtype = this.#reply.qtype;
    const signer = authoritySigner(authority);
    const trust = await this.#signerZone(sname, signer, qtype === TYPE.DS && signer === undefined);
    if (trust.kind !== "secure") return this.#markInsecure(trust.reason);
    if (signer === undefined) {
      throw new BogusError(
        DNSSEC_EDE.RRSIGS_MISSING,
        `no RRSIG in the negative answer for ${nameToText(sname)}`,
      );
    }
    if (!isSubdomain(sname, trust.zone) || labelCount(trust.zone) > labelCount(sname)) {
      throw new BogusError(
        DNSSEC_EDE.BOGUS,
        `negative answer for ${nameToText(sname)} signed by ${nameToText(trust.zone)}`,
      );
    }
    const denial = this.#verified(
      await verifyDenial(authority, trust.zone, trust.keys, this.#now, this.#budget),
    );
    const nxdomain = rcode === RCODE.NXDOMAIN;
    if (denial.nsecs.length > 0) {
      return nxdomain
        ? proveNxdomainNsec(denial.nsecs, sname, trust.zone)
        : proveNodataNsec(denial.nsecs, sname, qtype, trust.zone);
    }
    if (denial.nsec3s.length > 0) {
      const set = new Nsec3Set(denial.nsec3s, trust.zone, this.#budget);
      return nxdomain ? set.proveNxdomain(sname) : set.proveNodata(sname, qtype);
    }
    throw new BogusError(
      DNSSEC_EDE.NSEC_MISSING,
      `no NSEC or NSEC3 in the negative answer for ${nameToText(sname)}`,
    );
  }

  #markInsecure(reason: string): void {
    this.#insecure ??= reason;
  }
}
