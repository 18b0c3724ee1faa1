/**
 * What every frontend asks before it works on a client's query: is the client
 * on the access list, is it within its rate, is there room for one more
 * query in flight. One instance is shared by all frontends, so limits hold
 * across UDP and TCP and across listen addresses.
 *
 * Every refusal is counted; a summary is logged at most once a minute, never
 * a line per query (a flood must not become a flood of log lines).
 *
 * @module
 */

import { getLogger } from "../log.ts";
import { AccessList } from "./access_list.ts";
import type { Cidr } from "./cidr.ts";
import { InFlightLimit } from "./in_flight_limit.ts";
import { type ClientKey, clientKey, type IpAddress } from "./ip_address.ts";
import { RateLimiter } from "./rate_limiter.ts";

const log = getLogger("access");

/** Settings of {@linkcode Admission}. */
export interface AdmissionOptions {
  /** Client ranges admitted (`--allow`). */
  readonly allow: readonly Cidr[];
  /** Queries per second per client; 0 turns rate limiting off (`--rate-limit`). */
  readonly rateLimit: number;
  /** Bucket size; 0 means the same as `rateLimit` (`--rate-limit-burst`). @default {0} */
  readonly rateLimitBurst?: number;
  /** Bits of an IPv4 address that make one client. @default {32} */
  readonly ipv4Prefix?: number;
  /** Bits of an IPv6 address that make one client. @default {64} */
  readonly ipv6Prefix?: number;
  /** Client queries in flight at most, over all frontends (`--max-in-flight`). */
  readonly maxInFlight: number;
  /** Clients tracked by the rate limiter at most. @default {65536} */
  readonly maxRateLimitEntries?: number;
}

/** Counts of what was refused or cut short, since start. */
export interface AdmissionCounters {
  /** Queries (UDP) and connections (TCP) from clients outside the access list. */
  denied: number;
  /** Queries over their client's rate. */
  rateLimited: number;
  /** Queries refused because `maxInFlight` queries were already in flight. */
  overloaded: number;
  /** ANY queries over UDP answered with TC=1. */
  anyTruncated: number;
  /** TCP connections closed at once because a connection cap was reached. */
  tcpRejected: number;
  /** Idle TCP connections closed to make room for a new one. */
  tcpEvicted: number;
}

/** How often the summary of refusals may be logged. */
const REPORT_INTERVAL_MS = 60_000;

/** Access list, rate limit and in-flight cap, with their counters. */
export class Admission {
  /** The cap on queries in flight; frontends take a slot per query. */
  readonly inFlight: InFlightLimit;
  readonly #access: AccessList;
  readonly #limiter: RateLimiter | null;
  readonly #ipv4Prefix: number;
  readonly #ipv6Prefix: number;
  readonly #counters: AdmissionCounters = {
    denied: 0,
    rateLimited: 0,
    overloaded: 0,
    anyTruncated: 0,
    tcpRejected: 0,
    tcpEvicted: 0,
  };
  #reported: AdmissionCounters = { ...this.#counters };
  #reportedAt = -Infinity;

  /**
   * Sets up the checks.
   *
   * @param options Access list and limits.
   */
  constructor(options: AdmissionOptions) {
    this.#access = new AccessList(options.allow);
    this.#ipv4Prefix = options.ipv4Prefix ?? 32;
    this.#ipv6Prefix = options.ipv6Prefix ?? 64;
    this.#limiter = options.rateLimit > 0
      ? new RateLimiter({
        qps: options.rateLimit,
        burst: options.rateLimitBurst || options.rateLimit,
        maxEntries: options.maxRateLimitEntries ?? 65536,
      })
      : null;
    this.inFlight = new InFlightLimit(options.maxInFlight);
  }

  /** What was refused so far (a live view; do not modify). */
  get counters(): Readonly<AdmissionCounters> {
    return this.#counters;
  }

  /** Clients the rate limiter tracks now (0 when rate limiting is off). */
  get trackedClients(): number {
    return this.#limiter?.size ?? 0;
  }

  /**
   * The key under which a client is counted (its /32 or /64 by default).
   *
   * @param address The client's address.
   * @returns The key.
   */
  keyOf(address: IpAddress): ClientKey {
    return clientKey(address, this.#ipv4Prefix, this.#ipv6Prefix);
  }

  /**
   * Whether a client is on the access list; counts it when it is not.
   *
   * @param address The client's address, or null when it could not be parsed.
   * @returns True when the client may be served.
   */
  allows(address: IpAddress | null): boolean {
    if (address !== null && this.#access.allows(address)) return true;
    this.count("denied");
    return false;
  }

  /**
   * Takes a token from the client's bucket; counts the query when there is none.
   *
   * @param address The client's address (already admitted by {@linkcode allows}).
   * @returns True when the query is within the client's rate (always, when off).
   */
  withinRate(address: IpAddress): boolean {
    if (this.#limiter === null || this.#limiter.allow(this.keyOf(address))) return true;
    this.count("rateLimited");
    return false;
  }

  /**
   * Takes a slot for a query in flight; counts the query when none is free.
   * Release it with `inFlight.release()` once the answer is sent or dropped.
   *
   * @returns True when the query may be worked on.
   */
  tryStart(): boolean {
    if (this.inFlight.tryAcquire()) return true;
    this.count("overloaded");
    return false;
  }

  /**
   * Counts one event, and logs a summary when the last one is old enough.
   *
   * @param kind What happened.
   */
  count(kind: keyof AdmissionCounters): void {
    this.#counters[kind]++;
    const now = performance.now();
    if (now - this.#reportedAt < REPORT_INTERVAL_MS) return;
    const since = Object.entries(this.#counters)
      .map(([name, value]) => `${name} ${value - this.#reported[name as keyof AdmissionCounters]}`)
      .join(", ");
    log.warn("Clients refused or limited since the last report: {since}", { since });
    this.#reported = { ...this.#counters };
    this.#reportedAt = now;
  }
}
