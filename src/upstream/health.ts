/**
 * The health of one upstream, learnt from real queries and, while it is
 * down, from probes (the pattern of CoreDNS `plugin/pkg/up`): the first hard
 * failure marks it down, one probe loop at a time retries it with growing
 * intervals, and the first answer brings it back, without a restart.
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
   * An exchange succeeded.
   *
   * @param now When (performance.now() milliseconds).
   */
  recordSuccess(now = performance.now()): void {
    this.#failures = 0;
    this.#lastSuccessAt = now;
  }

  /**
   * An exchange failed. Connection and TLS failures mark the upstream down at
   * once; timeouts, closes and bad replies after `maxFails` in a row.
   *
   * @param error What went wrong.
   */
  recordFailure(error: UpstreamError): void {
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
    log.warn("Upstream {upstream} is down ({reason}): {error}; probing it in the background", {
      upstream: this.#options.label,
      reason: error.reason,
      error: error.message,
    });
    if (this.#probing === null && !this.#stop.signal.aborted) {
      this.#probing = this.#probeUntilUp().finally(() => this.#probing = null);
    }
  }

  async #probeUntilUp(): Promise<void> {
    let interval = this.#options.probeIntervalMs ?? 250;
    const maxInterval = this.#options.maxProbeIntervalMs ?? 5000;
    const stop = this.#stop.signal;
    while (!stop.aborted) {
      await sleep(interval, stop);
      if (stop.aborted) return;
      try {
        await this.#options.probe(this.#options.probeTimeoutMs ?? 2000);
      } catch (error) {
        log.debug("Probe of {upstream} failed: {error}", {
          upstream: this.#options.label,
          error: (error as Error).message,
        });
        interval = Math.min(interval * 2, maxInterval);
        continue;
      }
      this.#up = true;
      this.recordSuccess();
      const downFor = ((performance.now() - this.#downSince) / 1000).toFixed(1);
      log.info("Upstream {upstream} is up again after {downFor} s", {
        upstream: this.#options.label,
        downFor,
      });
      return;
    }
  }

  async #probeWhileIdle(intervalMs: number): Promise<void> {
    const stop = this.#stop.signal;
    while (!stop.aborted) {
      if (this.#up && performance.now() - this.#lastSuccessAt >= intervalMs) {
        try {
          await this.#options.probe(this.#options.probeTimeoutMs ?? 2000);
          this.recordSuccess();
        } catch (error) {
          if (stop.aborted) return;
          if (error instanceof UpstreamError) this.recordFailure(error);
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
