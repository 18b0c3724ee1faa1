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
 * the idle time). Closes after less than a second idle are ignored: idle
 * timers of DNS servers are seconds long, and a server that closes sooner
 * (a restart, a limit on queries or on a connection's lifetime) would
 * otherwise have every connection retired within a few hundred
 * milliseconds, paying a TLS handshake each time. The learned time is the
 * second shortest of the last four observations, so that one close for some
 * other reason does not decide alone.
 *
 * As the proxy then closes first, the server is not seen to close idle
 * connections any more, and a server whose timer grew (or whose closes had
 * another cause) would never be noticed. So what was learned holds for ten
 * minutes after the latest observation; then it is forgotten, connections
 * wait the configured idle time again, and two more closes by the server
 * teach it afresh: at most two resends or early handshakes per upstream
 * every ten minutes.
 *
 * @module
 */

import { getLogger } from "../log.ts";

const log = getLogger("upstream");

/** Idle times shorter than this are not taken as an idle timer (the floor of what is learned). */
export const MIN_OBSERVED_MS = 1000;
/** What was learned is forgotten this long after the latest observation, to learn it again. */
export const RELEARN_AFTER_MS = 10 * 60_000;
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
  /** When the latest observation was made (`performance.now()`). */
  #observedAt = 0;

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
   * @param now When the server closed it (`performance.now()`).
   */
  observe(idleMs: number, now: number = performance.now()): void {
    if (idleMs < MIN_OBSERVED_MS) return;
    // Observations from before a long quiet time say little about the server now.
    if (now - this.#observedAt >= RELEARN_AFTER_MS) this.#observed.length = 0;
    this.#observedAt = now;
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
   * @param now When the connection became idle (`performance.now()`).
   * @returns That, or less once the server's idle close is learned (and not yet forgotten).
   */
  retireAfter(configuredMs: number, now: number = performance.now()): number {
    if (this.#learnedMs === undefined) return configuredMs;
    if (now - this.#observedAt >= RELEARN_AFTER_MS) {
      log.info("{upstream}: idle close learned {minutes} min ago; learning it again", {
        upstream: this.#label,
        minutes: Math.round((now - this.#observedAt) / 60_000),
      });
      this.#observed.length = 0;
      this.#learnedMs = undefined;
      return configuredMs;
    }
    return Math.min(configuredMs, Math.round(this.#learnedMs * RETIRE_SHARE));
  }
}
