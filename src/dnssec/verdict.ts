/**
 * What validation concludes about an answer (RFC 4033 §5, RFC 4035 §4.3),
 * and the Extended DNS Error codes of its failures (RFC 8914 §4).
 *
 * @module
 */

/** Validation states. `indeterminate`: no trust anchor covers the name, or the answer is an error. */
export type SecurityState = "secure" | "insecure" | "bogus" | "indeterminate";

/** Extended DNS Error codes for DNSSEC failures (RFC 8914 §4). */
export const DNSSEC_EDE = {
  OTHER: 0,
  UNSUPPORTED_DNSKEY_ALGORITHM: 1,
  UNSUPPORTED_DS_DIGEST: 2,
  BOGUS: 6,
  SIGNATURE_EXPIRED: 7,
  SIGNATURE_NOT_YET_VALID: 8,
  DNSKEY_MISSING: 9,
  RRSIGS_MISSING: 10,
  NSEC_MISSING: 12,
  NO_REACHABLE_AUTHORITY: 22,
  UNSUPPORTED_NSEC3_ITERATIONS: 27,
} as const;

/** The outcome of validating one answer. */
export interface Verdict {
  readonly state: SecurityState;
  /** For bogus answers and insecure ones proven by an unsupported parameter: the EDE code. */
  readonly ede?: number;
  /** Why, for logs and the EDE text. */
  readonly reason?: string;
  /**
   * For secure answers: seconds the verdict holds, the smallest TTL of the
   * records and signatures checked, capped by the first signature's
   * expiration (RFC 4035 §5.3.3). The answer must not be cached, nor served
   * stale as secure, beyond it.
   */
  readonly ttl?: number;
}

/** A failed check: bogus with an EDE code and a reason. */
export class BogusError extends Error {
  readonly ede: number;

  /**
   * @param ede The Extended DNS Error code.
   * @param reason What failed.
   */
  constructor(ede: number, reason: string) {
    super(reason);
    this.name = "BogusError";
    this.ede = ede;
  }
}

/** Proof that the name is insecure (thrown up through the checks). */
export class InsecureError extends Error {
  readonly ede?: number;

  /**
   * @param reason Why.
   * @param ede An EDE code to report (e.g. unsupported algorithm), if any.
   */
  constructor(reason: string, ede?: number) {
    super(reason);
    this.name = "InsecureError";
    if (ede !== undefined) this.ede = ede;
  }
}
