/**
 * Plain DNS over TCP (RFC 7766): several queries in flight per connection,
 * handled concurrently and answered in whatever order they complete
 * (§6.2.1.1); idle connections and stalled partial messages are cut off after
 * a few seconds (§6.2.3).
 *
 * @module
 */

import { frame, LengthPrefixDecoder } from "../framing/length_prefix_decoder.ts";
import type { QueryHandler } from "../query_handler.ts";
import { getLogger } from "../log.ts";
import { settleWithin } from "./udp_frontend.ts";

const log = getLogger("tcp");

/** Settings of the TCP frontend. */
export interface TcpFrontendOptions {
  /** Close a connection with nothing in flight after this long without a whole query. @default {10000} */
  readonly idleTimeoutMs?: number;
  /** Queries handled at once per connection; reading pauses beyond. @default {100} */
  readonly maxInFlightPerConnection?: number;
}

/** Serves DNS queries arriving on one TCP listener. */
export class TcpFrontend {
  readonly #listener: Deno.TcpListener;
  readonly #handler: QueryHandler;
  readonly #idleTimeoutMs: number;
  readonly #maxInFlight: number;
  readonly #connections = new Set<ClientConnection>();
  #closed = false;
  /** Settles when the listener is closed and the accept loop has ended. */
  readonly done: Promise<void>;

  /**
   * Starts serving.
   *
   * @param listener A bound TCP listener.
   * @param handler Answers each query.
   * @param options Timeouts and limits.
   */
  constructor(listener: Deno.TcpListener, handler: QueryHandler, options: TcpFrontendOptions = {}) {
    this.#listener = listener;
    this.#handler = handler;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 10000;
    this.#maxInFlight = options.maxInFlightPerConnection ?? 100;
    this.done = this.#acceptLoop();
  }

  /** The bound address. */
  get addr(): Deno.NetAddr {
    return this.#listener.addr;
  }

  /**
   * Stops accepting, lets each connection finish the queries it has in
   * flight (at most `graceMs`), then closes everything.
   *
   * @param graceMs Longest wait for queries in flight.
   */
  async drain(graceMs: number): Promise<void> {
    this.#closeListener();
    const connections = [...this.#connections];
    for (const connection of connections) connection.drain();
    await settleWithin(connections.map((connection) => connection.done), graceMs);
    for (const connection of connections) connection.close();
    await Promise.all(connections.map((connection) => connection.done));
    await this.done;
  }

  #closeListener(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#listener.close();
  }

  async #acceptLoop(): Promise<void> {
    while (!this.#closed) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#closed) return;
        log.warn("Cannot accept a TCP connection: {error}", { error: (error as Error).message });
        await new Promise((resolve) => setTimeout(resolve, 100)); // e.g. out of file descriptors
        continue;
      }
      const connection = new ClientConnection(conn, this.#handler, {
        idleTimeoutMs: this.#idleTimeoutMs,
        maxInFlight: this.#maxInFlight,
      });
      this.#connections.add(connection);
      connection.done.finally(() => this.#connections.delete(connection));
    }
  }
}

/** One client's TCP connection. */
class ClientConnection {
  readonly #conn: Deno.TcpConn;
  readonly #handler: QueryHandler;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #idleTimeoutMs: number;
  readonly #maxInFlight: number;
  readonly #client: Deno.NetAddr;
  /** Queries being answered; the connection closes only when this is empty. */
  readonly #inFlight = new Set<Promise<void>>();
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #draining = false;
  #closed = false;
  readonly done: Promise<void>;

  constructor(
    conn: Deno.TcpConn,
    handler: QueryHandler,
    options: { idleTimeoutMs: number; maxInFlight: number },
  ) {
    this.#conn = conn;
    this.#handler = handler;
    this.#writer = conn.writable.getWriter();
    this.#idleTimeoutMs = options.idleTimeoutMs;
    this.#maxInFlight = options.maxInFlight;
    this.#client = conn.remoteAddr;
    this.done = this.#serve();
  }

  /** Finish what is in flight, then close. */
  drain(): void {
    this.#draining = true;
    if (this.#inFlight.size === 0) this.close();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer's reset.
    }
  }

  async #serve(): Promise<void> {
    const queries = this.#conn.readable.pipeThrough(new LengthPrefixDecoder()).getReader();
    this.#armIdleTimer();
    try {
      for (;;) {
        const { value: query, done } = await queries.read();
        if (done || this.#draining) break;
        clearTimeout(this.#idleTimer);
        this.#track(this.#answer(query));
        if (this.#inFlight.size >= this.#maxInFlight) {
          await Promise.race(this.#inFlight); // RFC 7766 §6.2.1.1 permits limiting; pause reading
        }
      }
    } catch (error) {
      if (!this.#closed) {
        log.debug("TCP connection from {client} ended: {error}", {
          client: `${this.#client.hostname}:${this.#client.port}`,
          error: (error as Error).message,
        });
      }
    }
    await Promise.allSettled(this.#inFlight);
    this.close();
    await queries.cancel().catch(() => {});
  }

  async #answer(query: Uint8Array): Promise<void> {
    const answer = await this.#handler.handle(query, { transport: "tcp", client: this.#client });
    if (answer === null || this.#closed) return;
    await this.#writer.write(frame(answer)).catch((error) => {
      log.debug("Cannot send the answer to {client}: {error}", {
        client: `${this.#client.hostname}:${this.#client.port}`,
        error: (error as Error).message,
      });
      this.close();
    });
  }

  #track(task: Promise<void>): void {
    const tracked: Promise<void> = task.catch((error) => {
      log.error("Query handling failed: {error}", { error });
    }).finally(() => {
      this.#inFlight.delete(tracked);
      if (this.#inFlight.size > 0) return;
      if (this.#draining) this.close();
      else this.#armIdleTimer();
    });
    this.#inFlight.add(tracked);
  }

  #armIdleTimer(): void {
    clearTimeout(this.#idleTimer);
    if (this.#closed) return;
    this.#idleTimer = setTimeout(() => this.close(), this.#idleTimeoutMs);
  }
}
