/**
 * The running proxy's life after start-up: lame duck, reloads that retire
 * upstreams once their queries are done, and the shutdown that drains the
 * frontends and then closes the upstreams.
 *
 * @module
 */

import type { Frontends } from "./frontend/start_frontends.ts";
import type { Routing, RoutingConfig } from "./routing/routing.ts";
import { getLogger } from "./log.ts";

const log = getLogger();

/**
 * Step 5 of start-up (see proxy.ts), for the rest of the proxy's life: lame
 * duck, reloads and the shutdown that drains the frontends and then closes
 * the upstreams.
 */
export class Lifecycle {
  readonly #timeoutMs: number;
  readonly #routing: Routing;
  readonly #frontends: Frontends;
  readonly #retiring = new Set<Promise<void>>();
  readonly #onStopped: (() => Promise<void> | undefined)[] = [];
  #lameDuck = false;
  #stopping: Promise<void> | null = null;

  /**
   * @param timeoutMs The query deadline: retired upstreams and the shutdown wait this long and 1 s.
   * @param routing The upstreams and routes, which reloads replace.
   * @param frontends The listeners to drain on shutdown.
   */
  constructor(timeoutMs: number, routing: Routing, frontends: Frontends) {
    this.#timeoutMs = timeoutMs;
    this.#routing = routing;
    this.#frontends = frontends;
  }

  /** Null while the proxy takes traffic, else why a load balancer should stop sending. */
  notReadyReason(): string | null {
    if (this.#stopping !== null) return "shutting down";
    if (this.#lameDuck) return "lame duck: shutting down soon";
    return null;
  }

  /** Turns readiness off while the proxy goes on serving. */
  enterLameDuck(): void {
    this.#lameDuck = true;
  }

  /** Runs `stop` once the upstreams are closed (the operations endpoint goes last). */
  onStopped(stop: () => Promise<void> | undefined): void {
    this.#onStopped.push(stop);
  }

  /**
   * Applies new upstreams and routes; the upstreams no longer used are
   * closed once the queries already sent to them are past their deadline.
   *
   * @param config The new routing settings, defaults filled in.
   */
  reload(config: RoutingConfig): void {
    const retired = this.#routing.apply(config);
    const closing = (async () => {
      // Queries already sent to a retired upstream finish within the deadline.
      await new Promise((resolve) => setTimeout(resolve, this.#timeoutMs + 1000));
      await Promise.all(retired.map((upstream) => upstream.close()));
    })();
    this.#retiring.add(closing);
    closing.finally(() => this.#retiring.delete(closing));
  }

  /**
   * Stops taking queries, finishes those in flight (at most `graceMs`),
   * closes the upstreams, then runs the `onStopped` callbacks; once.
   *
   * @param graceMs How long queries in flight may take. @default {timeoutMs + 1000}
   * @returns Settles when everything is closed.
   */
  shutdown(graceMs: number = this.#timeoutMs + 1000): Promise<void> {
    return this.#stopping ??= (async () => {
      await this.#frontends.drain(graceMs);
      await Promise.all([...this.#retiring]);
      await Promise.all(this.#routing.upstreams.map((upstream) => upstream.close()));
      for (const stop of this.#onStopped) await stop();
      log.info("Stopped");
    })();
  }
}
