/**
 * One DNS-over-TLS upstream: a small pool of long-lived, pipelined
 * connections (RFC 7858 §3.4, RFC 7766 §6.2.2) and its health.
 *
 * Queries go to the least busy open connection; a further connection is
 * opened only when every open one is busy, up to `maxConnections`. One
 * connection attempt runs at a time, and every query waiting for it shares
 * its outcome, so a burst never turns into a burst of handshakes.
 *
 * @module
 */

import type { MessageLayout } from "../wire/message.ts";
import { PROBE_QUERY_FRAME, PROBE_QUERY_LAYOUT } from "./probe_query.ts";
import type { UpstreamSpec } from "./upstream_spec.ts";
import { getLogger } from "../log.ts";
import { DotConnection } from "./dot_connection.ts";
import { exchange, logListenerError, type ReplyListener } from "./reply_listener.ts";
import { UpstreamHealth } from "./health.ts";
import { IdleCloseLearner } from "./idle_close.ts";
import { UpstreamError } from "./upstream_error.ts";
import type { Upstream } from "./upstream.ts";
import type { UpstreamSeries } from "./upstream.ts";

const log = getLogger("upstream");

/** Settings of one upstream. */
export interface DotUpstreamOptions {
  readonly spec: UpstreamSpec;
  /** Extra trusted CA certificates (PEM). */
  readonly caCerts: readonly string[];
  /** Deadline for TCP connect plus TLS handshake. @default {2000} */
  readonly connectTimeoutMs?: number;
  /** Close connections idle this long. @default {30000} */
  readonly idleTimeoutMs?: number;
  /** Connections kept open at most. @default {2} */
  readonly maxConnections?: number;
  /** Queries in flight on one connection at most. @default {512} */
  readonly maxInFlightPerConnection?: number;
  /** Probe while idle to keep the health current (see {@linkcode UpstreamHealth}). */
  readonly idleProbeMs?: number;
  /** This upstream's metric series. */
  readonly metrics: UpstreamSeries;
}

/** Queries in flight on the least busy connection before another is opened. */
const SPREAD_THRESHOLD = 100;

/** A DNS-over-TLS upstream resolver. */
export class DotUpstream implements Upstream {
  /** The upstream as configured, e.g. `1.1.1.1:853#cloudflare-dns.com`. */
  readonly label: string;
  /** Up/down state, probed while down. */
  readonly health: UpstreamHealth;
  /** This upstream's metric series. */
  readonly metrics: UpstreamSeries;
  readonly #connectOptions;
  readonly #maxConnections: number;
  readonly #maxInFlight: number;
  /** Open connections, oldest first; each removes itself when it ends. */
  readonly #connections: DotConnection[] = [];
  #connecting: Promise<DotConnection> | null = null;
  #closed = false;

  /** @param options Settings of this upstream. */
  constructor(options: DotUpstreamOptions) {
    this.label = options.spec.label;
    this.#connectOptions = {
      spec: options.spec,
      caCerts: options.caCerts,
      connectTimeoutMs: options.connectTimeoutMs ?? 2000,
      idleTimeoutMs: options.idleTimeoutMs ?? 30000,
      onPinMismatch: () => options.metrics.pinMismatch.inc(),
      idleClose: new IdleCloseLearner(this.label),
    };
    this.#maxConnections = options.maxConnections ?? 2;
    this.#maxInFlight = options.maxInFlightPerConnection ?? 512;
    this.metrics = options.metrics;
    this.health = new UpstreamHealth({
      label: this.label,
      probe: (timeoutMs) => this.#probe(timeoutMs),
      ...(options.idleProbeMs !== undefined && { idleProbeMs: options.idleProbeMs }),
    });
  }

  /** Connections currently open. */
  get openConnections(): number {
    return this.#connections.length;
  }

  /** Queries sent and not answered yet, over all connections. */
  get inFlight(): number {
    let total = 0;
    for (const connection of this.#connections) total += connection.inFlight;
    return total;
  }

  /**
   * Sends a framed query on a pooled connection.
   *
   * @param frame The framed query (see `buildUpstreamFrame`); its ID is overwritten.
   * @param layout Layout of the query in the frame.
   * @param timeoutMs The attempt's deadline, connecting included.
   * @param listener Told the matched reply, or the failure as an
   * {@linkcode UpstreamError} with its reason.
   */
  send(frame: Uint8Array, layout: MessageLayout, timeoutMs: number, listener: ReplyListener): void {
    // Nearly every query finds an open connection: hand it over without an
    // async step; only the wait for a new connection needs one.
    const ready = this.#ready();
    if (ready !== undefined) return ready.send(frame, layout, timeoutMs, listener);
    this.#sendOnNew(frame, layout, timeoutMs, listener).catch(logListenerError(this.label));
  }

  /** Closes every connection and stops probing. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#connecting?.catch(() => {});
    const connections = [...this.#connections];
    for (const connection of connections) connection.close("proxy shutting down");
    await Promise.all(connections.map((connection) => connection.done));
    await this.health.close();
  }

  /** The least busy open connection, when it may take this query without a new one opening. */
  #ready(): DotConnection | undefined {
    if (this.#closed) return undefined;
    let best: DotConnection | undefined;
    for (const connection of this.#connections) {
      if (connection.closed || connection.inFlight >= this.#maxInFlight) continue;
      if (best === undefined || connection.inFlight < best.inFlight) best = connection;
    }
    if (best === undefined) return undefined;
    const canGrow = this.#connections.length < this.#maxConnections;
    if (best.inFlight < SPREAD_THRESHOLD || !canGrow) return best;
    // Busy enough to spread: start another connection, keep using this one meanwhile.
    this.#connecting ??= this.#open();
    return best;
  }

  /** No connection could take the query: open one and wait for it (within the deadline). */
  async #sendOnNew(
    frame: Uint8Array,
    layout: MessageLayout,
    timeoutMs: number,
    listener: ReplyListener,
  ): Promise<void> {
    const started = performance.now();
    let connection: DotConnection;
    try {
      if (this.#closed) throw new UpstreamError("closed", this.label, "proxy shutting down");
      if (this.#connections.length >= this.#maxConnections) {
        throw new UpstreamError("busy", this.label, "every connection is full");
      }
      listener.newConnection?.();
      connection = await withTimeout(this.#connecting ??= this.#open(), timeoutMs, this.label);
    } catch (error) {
      return listener.failed(error);
    }
    const left = timeoutMs - (performance.now() - started);
    connection.send(frame, layout, Math.max(left, 1), listener);
  }

  #open(): Promise<DotConnection> {
    const opening = DotConnection.open(this.#connectOptions).then((connection) => {
      if (this.#closed) {
        connection.close("proxy shutting down");
        throw new UpstreamError("closed", this.label, "proxy shutting down");
      }
      this.#connections.push(connection);
      this.metrics.opened.inc();
      log.debug("{upstream}: TLS connection open ({count} in all)", {
        upstream: this.label,
        count: this.#connections.length,
      });
      connection.done.then(() => {
        const index = this.#connections.indexOf(connection);
        if (index >= 0) this.#connections.splice(index, 1);
      });
      return connection;
    }).finally(() => this.#connecting = null);
    // Callers that found another connection do not await this attempt; a
    // failure still reaches the health state through those that do, or here.
    opening.catch((error) => {
      if (error instanceof UpstreamError && error.reason !== "closed") {
        this.health.recordFailure(error);
      }
    });
    return opening;
  }

  async #probe(timeoutMs: number): Promise<void> {
    try {
      await exchange(this, PROBE_QUERY_FRAME.slice(), PROBE_QUERY_LAYOUT, timeoutMs);
    } catch (error) {
      // A refused probe is an answer (see UpstreamHealth), not a failure.
      if (error instanceof UpstreamError && error.reason !== "rejected") {
        this.metrics.failed(error.reason);
      }
      throw error;
    }
  }
}

/** Waits for `promise` at most `ms` (the promise keeps running). */
function withTimeout<T>(promise: Promise<T>, ms: number, label: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(timeoutError(label)), ms);
    promise.then(resolve, reject).finally(() => clearTimeout(timer));
  });
}

function timeoutError(label: string): UpstreamError {
  return new UpstreamError("timeout", label, "no connection before the deadline");
}
