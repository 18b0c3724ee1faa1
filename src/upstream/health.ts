/**
 * The health of one upstream, learnt from real queries and, while it is
 * down, from probes (the pattern of CoreDNS `plugin/pkg/up`): the first hard
 * failure marks it down, one probe loop at a time retries it with growing
 * intervals, and the first answer, to a probe or to a real query, brings it
 * back, without a restart.
 *
 * Only silence counts against an upstream: a timed-out query counts only
 * when nothing was heard from the upstream since it was sent. An upstream
 * that answers other names while one name is slow (a slow authority, or a
 * name made slow on purpose) is alive, and marking it down would fail every
 * client for one client's name. Likewise any answer to the probe, even a
 * refusal of `. IN NS` (many internal resolvers refuse the root), means
 * the upstream is alive.
 *
 * State changes are logged once each, never per failed query.
 *
 * @module
 */

import { getLogger } from "../log.ts";
import { UpstreamError } from "./upstream_error.ts";

const log = getLogger("upstream");

/** How health is judged and how a down upstream is probed. */
export interface UpstreamHealthOptions {
  /** The upstream's label, for logs. */
  readonly label: string;
  /** Sends one probe query; resolves when any matching answer comes back. */
  readonly probe: (timeoutMs: number) => Promise<void>;
  /** Consecutive soft failures (timeouts, bad replies) that mark it down. @default {2} */
  readonly maxFails?: number;
  /** First wait between probes; doubled after each failed probe. @default {250} */
  readonly probeIntervalMs?: number;
  /** Longest wait between probes. @default {5000} */
  readonly maxProbeIntervalMs?: number;
  /** Deadline of one probe. @default {2000} */
  readonly probeTimeoutMs?: number;
  /**
   * When set, an upstream that is up but has not answered for this long is
   * probed, so that its state stays current without traffic (readiness).
   */
  readonly idleProbeMs?: number;
}

/** Up/down state of an upstream, with a background probe while down. */
export class UpstreamHealth {
  readonly #options: UpstreamHealthOptions;
  #up = true;
  #failures = 0;
  #downSince = 0;
  #lastSuccessAt = -Infinity;
  /** When the upstream last answered anything, a refusal included. */
  #lastHeardAt = -Infinity;
  /** Set while a probe loop runs; cleared by the loop itself as it ends. */
  #probeLoopRunning = false;
  #probeIntervalMs = 0;
  #probing: Promise<void> | null = null;
  readonly #idleProbing: Promise<void> | null = null;
  readonly #stop = new AbortController();

  /** @param options How health is judged and probed. */
  constructor(options: UpstreamHealthOptions) {
    this.#options = options;
    if (options.idleProbeMs !== undefined) {
      this.#idleProbing = this.#probeWhileIdle(options.idleProbeMs);
    }
  }

  /** Whether queries should be sent to this upstream. */
  get up(): boolean {
    return this.#up;
  }

  /**
   * Whether the upstream is up and answered within the last `windowMs`.
   *
   * @param windowMs How recent the last answer must be.
   * @returns True when it can be counted on.
   */
  answeredWithin(windowMs: number): boolean {
    return this.#up && performance.now() - this.#lastSuccessAt < windowMs;
  }

  /** When it last answered (performance.now() milliseconds), or null if it never has. */
  get lastSuccessAt(): number | null {
    return this.#lastSuccessAt === -Infinity ? null : this.#lastSuccessAt;
  }

  /**
   * An exchange succeeded. A down upstream is up again at once: it has
   * just answered a real query, whatever the probes said.
   *
   * @param now When (performance.now() milliseconds).
   */
  recordSuccess(now = performance.now()): void {
    this.#failures = 0;
    this.#lastSuccessAt = now;
    if (now > this.#lastHeardAt) this.#lastHeardAt = now;
    if (!this.#up) this.#markUp("a query through it was answered");
  }

  /**
   * An exchange failed. Connection and TLS failures mark the upstream down at
   * once; timeouts, closes and bad replies after `maxFails` in a row. What
   * says nothing against the upstream is not counted: a question it
   * rejected (the client's odd question, so counting it would let a client
   * take the upstream down; and an answer, so a sign of life), the proxy's
   * own overload ("busy"), and a timeout while the upstream answered
   * something else after the query was sent (a slow name, not a dead
   * upstream).
   *
   * @param error What went wrong.
   * @param sentAt When the failed query was sent (performance.now()
   * milliseconds); by default a timeout counts whatever was heard.
   */
  recordFailure(error: UpstreamError, sentAt = Infinity): void {
    switch (error.reason) {
      case "busy":
        return;
      case "rejected":
        this.#lastHeardAt = performance.now();
        return;
      case "timeout":
        if (this.#lastHeardAt >= sentAt) {
          log.debug("{upstream}: {error}, though it answered others meanwhile: not counted", {
            upstream: this.#options.label,
            error: error.message,
          });
          return;
        }
    }
    if (!this.#up) return;
    this.#failures++;
    const hard = error.reason === "connect" || error.reason === "tls";
    if (hard || this.#failures >= (this.#options.maxFails ?? 2)) this.#markDown(error);
  }

  /** Stops probing. */
  async close(): Promise<void> {
    this.#stop.abort();
    await Promise.all([this.#probing, this.#idleProbing]);
  }

  #markDown(error: UpstreamError): void {
    this.#up = false;
    this.#downSince = performance.now();
    this.#probeIntervalMs = this.#options.probeIntervalMs ?? 250;
    log.warn("Upstream {upstream} is down ({reason}): {error}; probing it in the background", {
      upstream: this.#options.label,
      reason: error.reason,
      error: error.message,
    });
    // A loop still running (it waits for its next turn) sees the upstream
    // down again and carries on, from the first interval.
    if (!this.#probeLoopRunning && !this.#stop.signal.aborted) {
      this.#probeLoopRunning = true;
      this.#probing = this.#probeUntilUp();
    }
  }

  #markUp(how: string): void {
    this.#up = true;
    this.#failures = 0;
    const downFor = ((performance.now() - this.#downSince) / 1000).toFixed(1);
    log.info("Upstream {upstream} is up again after {downFor} s: {how}", {
      upstream: this.#options.label,
      downFor,
      how,
    });
  }

  /** Probes until the upstream is up, by a probe's answer or a real query's. */
  async #probeUntilUp(): Promise<void> {
    const maxInterval = this.#options.maxProbeIntervalMs ?? 5000;
    const stop = this.#stop.signal;
    try {
      while (!stop.aborted && !this.#up) {
        await sleep(this.#probeIntervalMs, stop);
        if (stop.aborted || this.#up) return;
        if (await this.#probeAnswered()) {
          if (!this.#up) this.#markUp("a probe was answered");
          this.recordSuccess();
          return;
        }
        this.#probeIntervalMs = Math.min(this.#probeIntervalMs * 2, maxInterval);
      }
    } finally {
      // Synchronous with the loop's last check: a markDown after it starts a new loop.
      this.#probeLoopRunning = false;
    }
  }

  /**
   * Sends one probe. Any answer means the upstream is alive, a refusal
   * without the question included (REFUSED, FORMERR or NOTIMP to `. IN NS`).
   *
   * @returns True when it answered; false with the failure logged.
   */
  async #probeAnswered(): Promise<boolean> {
    try {
      await this.#options.probe(this.#options.probeTimeoutMs ?? 2000);
      return true;
    } catch (error) {
      if (error instanceof UpstreamError && error.reason === "rejected") return true;
      log.debug("Probe of {upstream} failed: {error}", {
        upstream: this.#options.label,
        error: (error as Error).message,
      });
      return false;
    }
  }

  async #probeWhileIdle(intervalMs: number): Promise<void> {
    const stop = this.#stop.signal;
    while (!stop.aborted) {
      if (this.#up && performance.now() - this.#lastSuccessAt >= intervalMs) {
        const sentAt = performance.now();
        try {
          await this.#options.probe(this.#options.probeTimeoutMs ?? 2000);
          this.recordSuccess();
        } catch (error) {
          if (stop.aborted) return;
          if (error instanceof UpstreamError && error.reason === "rejected") {
            this.recordSuccess(); // refused the root, but answered
          } else if (error instanceof UpstreamError) {
            this.recordFailure(error, sentAt);
          }
        }
      }
      await sleep(intervalMs, stop);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
