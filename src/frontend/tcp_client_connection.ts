/**
 * One client's TCP connection (RFC 7766): queries are read as they come,
 * answered concurrently and written back in whatever order they complete
 * (§6.2.1.1), each through the shared admission checks.
 *
 * Time limits: a connection with nothing in flight is closed after the idle
 * timeout, and the timer restarts only when a whole query has arrived, so a
 * client sending a byte at a time (slowloris) is cut off as surely as a
 * silent one (§6.2.3). A write the client does not read within the same time
 * closes the connection too, so a client that never reads cannot pin answers
 * in memory.
 *
 * @module
 */

import { frame, LengthPrefixDecoder } from "../framing/length_prefix_decoder.ts";
import type { Admission } from "../access/admission.ts";
import type { IpAddress } from "../access/ip_address.ts";
import { buildRefused } from "../access/refusals.ts";
import type { QueryHandler } from "../query_handler.ts";
import { getLogger } from "../log.ts";
import type { TableEntry } from "./tcp_connection_table.ts";

const log = getLogger("tcp");

/** Settings of one client connection. */
export interface ClientConnectionOptions {
  /** Answers each query. */
  readonly handler: QueryHandler;
  /** Rate limit and in-flight cap, shared with every frontend. */
  readonly admission: Admission;
  /** The client's address, or null when it could not be parsed (then `denied`). */
  readonly address: IpAddress | null;
  /** The client is not on the access list: answer REFUSED once, then close. */
  readonly denied: boolean;
  /** Close after this long idle, stalled mid-query or not reading an answer. */
  readonly idleTimeoutMs: number;
  /** Queries handled at once; reading pauses beyond. */
  readonly maxInFlight: number;
  /** UDP size advertised in the OPT record of REFUSED answers. */
  readonly maxUdpSize: number;
}

/** A client's TCP connection. */
export class ClientConnection implements TableEntry {
  readonly #conn: Deno.TcpConn;
  readonly #options: ClientConnectionOptions;
  readonly #client: string;
  /** Queries being answered; the connection closes only when this is empty. */
  readonly #inFlight = new Set<Promise<void>>();
  #writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #draining = false;
  #closed = false;
  #done: Promise<void> = Promise.resolve();

  /**
   * Wraps an accepted connection.
   *
   * @param conn The accepted connection (not read until {@linkcode start}).
   * @param options Handler, admission and limits.
   */
  constructor(conn: Deno.TcpConn, options: ClientConnectionOptions) {
    this.#conn = conn;
    this.#options = options;
    this.#client = `${conn.remoteAddr.hostname}:${conn.remoteAddr.port}`;
  }

  /** True when no query is in flight (a connection still reading its first byte is idle). */
  get idle(): boolean {
    return this.#inFlight.size === 0;
  }

  /** Settles when the connection is closed and everything in flight has ended. */
  get done(): Promise<void> {
    return this.#done;
  }

  /** Starts reading queries. */
  start(): void {
    this.#writer = this.#conn.writable.getWriter();
    this.#done = this.#serve();
  }

  /** Finish what is in flight, then close. */
  drain(): void {
    this.#draining = true;
    if (this.#inFlight.size === 0) this.close();
  }

  /** Closes the connection at once; queries in flight are answered to nobody. */
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
        if (done || this.#draining || this.#closed) break;
        clearTimeout(this.#idleTimer);
        if (this.#options.denied) {
          // Nothing will ever be served to this client: say so once and hang up.
          await this.#send(buildRefused(query, this.#options.maxUdpSize));
          break;
        }
        this.#track(this.#respond(query));
        if (this.#inFlight.size >= this.#options.maxInFlight) {
          await Promise.race(this.#inFlight); // RFC 7766 §6.2.1.1 permits limiting; pause reading
        }
      }
    } catch (error) {
      if (!this.#closed) {
        log.debug("TCP connection from {client} ended: {error}", {
          client: this.#client,
          error: (error as Error).message,
        });
      }
    }
    await Promise.allSettled(this.#inFlight);
    this.close();
    await queries.cancel().catch(() => {}); // the stream errors once the resource is closed
  }

  /** Answers one query, or refuses it when the client is over its rate or the proxy is full. */
  #respond(query: Uint8Array): Promise<void> {
    const { admission, handler, maxUdpSize } = this.#options;
    // The TCP handshake proves the source address, so a REFUSED answer
    // cannot be reflected at anyone: tell the client at once rather than
    // leave it waiting for a timeout.
    if (!admission.withinRate(this.#options.address!) || !admission.tryStart()) {
      return this.#send(buildRefused(query, maxUdpSize));
    }
    const answering = handler.handle(query, {
      transport: "tcp",
      client: this.#conn.remoteAddr,
    });
    return answering.then((answer) => this.#send(answer))
      .finally(() => admission.inFlight.release());
  }

  /** Writes one answer, closing the connection if the client does not take it in time. */
  async #send(answer: Uint8Array | null): Promise<void> {
    if (answer === null || this.#closed) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stalled = new Promise<"stalled">((resolve) => {
      timer = setTimeout(() => resolve("stalled"), this.#options.idleTimeoutMs);
    });
    try {
      const result = await Promise.race([this.#writer!.write(frame(answer)), stalled]);
      if (result === "stalled") {
        log.debug("Closing TCP connection from {client}: it does not read its answers", {
          client: this.#client,
        });
        this.close();
      }
    } catch (error) {
      log.debug("Cannot send the answer to {client}: {error}", {
        client: this.#client,
        error: (error as Error).message,
      });
      this.close();
    } finally {
      clearTimeout(timer);
    }
  }

  #track(task: Promise<void>): void {
    const tracked: Promise<void> = task.catch((error) => {
      log.error("Query handling failed for {client}: {error}", { client: this.#client, error });
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
    this.#idleTimer = setTimeout(() => this.close(), this.#options.idleTimeoutMs);
  }
}
