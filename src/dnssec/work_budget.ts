/**
 * Bounds on the work one query may cause, against hostile zones (KeyTrap,
 * CVE-2023-50387; NSEC3 closest-encloser hashing, CVE-2023-50868): keys
 * tried per signature, signatures tried per RRset, signature checks and
 * NSEC3 hashes per query. A query that reaches a bound is answered SERVFAIL
 * with an Extended DNS Error; it never keeps the event loop (other
 * clients) waiting, since every check is an awaited WebCrypto call.
 *
 * @module
 */

/** The bounds. */
export interface WorkLimits {
  /** Keys with the RRSIG's key tag and algorithm tried per RRSIG. */
  readonly maxKeysPerSignature: number;
  /** RRSIGs tried per RRset. */
  readonly maxSignaturesPerRrset: number;
  /** Signature checks per query, across the chain of trust and the answer. */
  readonly maxValidations: number;
  /** NSEC3 hash computations per query (each up to 101 SHA-1 rounds). */
  readonly maxNsec3Hashes: number;
}

/**
 * The default bounds: a legitimate answer needs about a dozen checks with a
 * cold chain (two per zone cut, one per answer RRset, two or three per
 * denial proof) and a handful of hashes; a key-tag collision during a
 * rollover needs two keys per signature.
 */
export const DEFAULT_WORK_LIMITS: WorkLimits = {
  maxKeysPerSignature: 4,
  maxSignaturesPerRrset: 8,
  maxValidations: 48,
  maxNsec3Hashes: 64,
};

/** A query reached one of its {@linkcode WorkLimits}. */
export class WorkLimitError extends Error {
  /** The bound reached, e.g. `maxValidations`. */
  readonly limit: keyof WorkLimits;

  /**
   * @param limit The bound reached.
   * @param value Its value.
   */
  constructor(limit: keyof WorkLimits, value: number) {
    super(`DNSSEC work limit reached: ${limit} = ${value}`);
    this.name = "WorkLimitError";
    this.limit = limit;
  }
}

/**
 * The client query's deadline (`--timeout`) passed while the chain of
 * trust was still being fetched: the answer is SERVFAIL, never unvalidated.
 */
export class DeadlineError extends Error {
  /** @param what What was being waited for. */
  constructor(what: string) {
    super(`DNSSEC validation ran out of time waiting for ${what}`);
    this.name = "DeadlineError";
  }
}

/** The work one query has left, and until when. */
export class WorkBudget {
  readonly limits: WorkLimits;
  /**
   * When the client query's time is up (`performance.now()` milliseconds:
   * its arrival plus `--timeout`); the chain's fetches share what is left.
   */
  readonly deadline: number;
  #validations = 0;
  #hashes = 0;

  /**
   * @param limits The bounds.
   * @param deadline The query's deadline. @default {Infinity}
   */
  constructor(limits: WorkLimits = DEFAULT_WORK_LIMITS, deadline = Infinity) {
    this.limits = limits;
    this.deadline = deadline;
  }

  /** Signature checks spent so far. */
  get validations(): number {
    return this.#validations;
  }

  /** NSEC3 hashes spent so far. */
  get hashes(): number {
    return this.#hashes;
  }

  /** Spends one signature check. @throws {WorkLimitError} Past the bound. */
  spendValidation(): void {
    if (++this.#validations > this.limits.maxValidations) {
      throw new WorkLimitError("maxValidations", this.limits.maxValidations);
    }
  }

  /** Spends one NSEC3 hash. @throws {WorkLimitError} Past the bound. */
  spendHash(): void {
    if (++this.#hashes > this.limits.maxNsec3Hashes) {
      throw new WorkLimitError("maxNsec3Hashes", this.limits.maxNsec3Hashes);
    }
  }
}
