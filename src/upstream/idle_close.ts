/**
 * How long an upstream lets a TLS connection sit idle before it closes it,
 * learned from what it does, so that the proxy retires its connections just
 * before (RFC 7766 §6.2.3: either end may close an idle connection, and the
 * client should expect it). A query written on a connection the server is
 * closing fails with "closed" and is resent on a fresh one: it pays a round
 * trip and a handshake. Retired at 80 % of the learned time, a connection
 * is gone before the server closes it, and the next query opens a fresh one
 * at once.
 *
 * What is observed: how long a connection had been idle when the server
 * closed it, either while idle, or under a query that crossed the close
 * (nothing was read since that query went out, so it was the first after
 * the idle time). Closes after less than 100 ms idle say nothing about an
 * idle timer (a restart, a limit on queries) and are ignored. The learned
 * time is the second shortest of the last four observations, so that one
 * close for some other reason does not decide alone; as the proxy then
 * closes first, the server is not seen to close idle connections again and
 * the time stays learned (a server that later waits longer costs no more
 * than an early handshake).
 *
 * @module
 */

import { getLogger } from "../log.ts";

const log = getLogger("upstream");

/** Idle times shorter than this are not an idle timer. */
const MIN_OBSERVED_MS = 100;
/** Observations kept. */
const KEPT = 4;
/** Share of the learned time after which an idle connection is retired. */
export const RETIRE_SHARE = 0.8;

/**
 * What one upstream's idle closes taught, shared by its connections.
 *
 * @example Two closes after about a second of idle
 * ```ts
 * import assert from "node:assert/strict";
 * import { IdleCloseLearner } from "./idle_close.ts";
 *
 * const learner = new IdleCloseLearner("example");
 * learner.observe(1010);
 * assert.equal(learner.retireAfter(30000), 30000); // one close is not enough
 * learner.observe(1000);
 * assert.equal(learner.learnedMs, 1010);
 * assert.equal(learner.retireAfter(30000), 808);
 * assert.equal(learner.retireAfter(500), 500); // the configured time, when shorter
 * ```
 */
export class IdleCloseLearner {
  readonly #label: string;
  /** The last observations, oldest first. */
  readonly #observed: number[] = [];
  #learnedMs: number | undefined;

  /** @param label The upstream's label, for the log. */
  constructor(label: string) {
    this.#label = label;
  }

  /** The upstream's idle-close time as learned, in milliseconds. */
  get learnedMs(): number | undefined {
    return this.#learnedMs;
  }

  /**
   * The server closed a connection that had been idle this long.
   *
   * @param idleMs Milliseconds idle.
   */
  observe(idleMs: number): void {
    if (idleMs < MIN_OBSERVED_MS) return;
    this.#observed.push(Math.round(idleMs));
    if (this.#observed.length > KEPT) this.#observed.shift();
    if (this.#observed.length < 2) return;
    const learned = [...this.#observed].sort((a, b) => a - b)[1]!;
    if (learned === this.#learnedMs) return;
    this.#learnedMs = learned;
    log.info("{upstream}: closes idle connections after about {ms} ms; retiring them at {retire}", {
      upstream: this.#label,
      ms: learned,
      retire: Math.round(learned * RETIRE_SHARE),
    });
  }

  /**
   * How long a connection of this upstream may stay idle.
   *
   * @param configuredMs The proxy's own idle timeout.
   * @returns That, or less once the server's idle close is learned.
   */
  retireAfter(configuredMs: number): number {
    if (this.#learnedMs === undefined) return configuredMs;
    return Math.min(configuredMs, Math.round(this.#learnedMs * RETIRE_SHARE));
  }
}
