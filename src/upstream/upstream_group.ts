/**
 * A set of upstreams that serve the same names (the default upstreams, or
 * the resolvers of one forward zone), and the policy that orders them for
 * each query:
 *
 * - `sequential`: in configured order; the next one only when the first fails;
 * - `round-robin`: each query starts at the next upstream;
 * - `fastest`: lowest smoothed round-trip time first (as Unbound and Knot
 *   choose), re-measured continuously: one query in twenty goes to another
 *   healthy upstream so that a slow one that got fast again is noticed.
 *
 * Down upstreams are left out while another is up; they come back through
 * their probes, or through a real query that one of them answers. When
 * every upstream looks down, the health checks may be what is wrong (a
 * blip that is over, a resolver that will not answer the probe): as
 * CoreDNS's forward plugin does, the query is sent anyway, to all of them
 * in policy order, one after another as each fails, rather than failed
 * without being sent.
 *
 * @module
 */

import type { Upstream } from "./upstream.ts";

/** How a group orders its upstreams. */
export type UpstreamPolicy = "sequential" | "round-robin" | "fastest";

/**
 * Weight of a new round-trip time in the smoothed one: larger when it is
 * faster, so that an upstream measured slow once (a busy moment, a cold
 * cache) wins its place back after a few explored queries.
 */
const SMOOTHING_SLOWER = 0.3;
const SMOOTHING_FASTER = 0.6;
/** Samples an upstream needs before its smoothed time decides its rank. */
const MIN_SAMPLES = 3;
/** Share of queries that explore an upstream other than the fastest. */
const EXPLORE_SHARE = 0.05;

/** Upstreams for one set of names, with their selection policy. */
export class UpstreamGroup {
  /** The upstreams, in configured order. */
  readonly upstreams: readonly Upstream[];
  readonly policy: UpstreamPolicy;
  #next = 0;
  /** Smoothed round-trip time per upstream in ms, and how many samples it rests on. */
  readonly #srtt = new Map<Upstream, { ms: number; samples: number }>();

  /**
   * @param upstreams The upstreams, in configured order.
   * @param policy How to order them.
   */
  constructor(upstreams: readonly Upstream[], policy: UpstreamPolicy) {
    this.upstreams = upstreams;
    this.policy = policy;
  }

  /**
   * The healthy upstreams in the order this query should try them, or all
   * of them when none is healthy.
   *
   * @returns The order; empty only for a group without upstreams.
   */
  order(): readonly Upstream[] {
    if (this.upstreams.length === 1) return this.upstreams;
    const healthy = this.upstreams.filter((upstream) => upstream.health.up);
    return this.#ordered(healthy.length > 0 ? healthy : [...this.upstreams]);
  }

  /** The candidates (an array of its own, reordered in place) in policy order. */
  #ordered(candidates: Upstream[]): Upstream[] {
    if (candidates.length < 2) return candidates;
    switch (this.policy) {
      case "sequential":
        return candidates;
      case "round-robin": {
        const start = this.#next++ % candidates.length;
        return [...candidates.slice(start), ...candidates.slice(0, start)];
      }
      case "fastest": {
        // Upstreams measured fewer than MIN_SAMPLES times go first, so that
        // one unlucky first sample does not decide for long.
        const rank = (upstream: Upstream) => {
          const srtt = this.#srtt.get(upstream);
          return srtt === undefined || srtt.samples < MIN_SAMPLES ? -1 : srtt.ms;
        };
        const sorted = candidates.sort((a, b) => rank(a) - rank(b));
        if (Math.random() < EXPLORE_SHARE) {
          const other = 1 + Math.floor(Math.random() * (sorted.length - 1));
          [sorted[0], sorted[other]] = [sorted[other]!, sorted[0]!];
        }
        return sorted;
      }
    }
  }

  /**
   * Records how long an upstream took to answer (or, for a timeout, the
   * time waited, so that it sinks in the `fastest` order).
   *
   * @param upstream The upstream.
   * @param ms The round-trip time.
   */
  recordRtt(upstream: Upstream, ms: number): void {
    const previous = this.#srtt.get(upstream);
    if (previous === undefined) return void this.#srtt.set(upstream, { ms, samples: 1 });
    const weight = ms < previous.ms ? SMOOTHING_FASTER : SMOOTHING_SLOWER;
    previous.ms += weight * (ms - previous.ms);
    previous.samples++;
  }

  /** Smoothed round-trip time of an upstream in ms, if measured. */
  srtt(upstream: Upstream): number | undefined {
    return this.#srtt.get(upstream)?.ms;
  }
}
