/**
 * One client's TCP connection (RFC 7766): queries are read as they come,
 * answered concurrently and written back in whatever order they complete
 * (§6.2.1.1), each through the shared admission checks.
 *
 * Time limits: a connection with nothing in flight is closed after the idle
 * timeout, and the timer restarts only when a whole query has arrived, so a
 * client sending a byte at a time (slowloris) is cut off as surely as a
 * silent one (§6.2.3). An answer the client has not taken within the same
 * time of being queued closes the connection too, so a client that never
 * reads, or reads a little now and then, cannot pin answers in memory.
 *
 * Answers that complete together go out in one write (see
 * {@linkcode CoalescingWriter}). The cap on queries in flight counts the
 * REFUSED answers waiting to be written as well (they take no proxy-wide
 * slot), and pauses reading between reads, so one read's worth of queries
 * (at most 16 KiB) may go beyond it; the proxy-wide in-flight cap still
 * applies to each query answered.
 *
 * @module
 */

import { frame } from "../framing/length_prefix_decoder.ts";
import { readMessages } from "../framing/message_reader.ts";
import { CoalescingWriter, StalledWriteError } from "../framing/coalescing_writer.ts";
import type { Admission } from "../access/admission.ts";
import type { IpAddress } from "../access/ip_address.ts";
import { buildRefused } from "../access/refusals.ts";
import type { AnswerListener, QueryContext, QueryHandler } from "../query_handler.ts";
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
  /** Close after this long idle, stalled mid-query, or with an answer not read for this long. */
  readonly idleTimeoutMs: number;
  /** Queries handled at once; reading pauses beyond (checked between reads). */
  readonly maxInFlight: number;
  /** UDP size advertised in the OPT record of REFUSED answers. */
  readonly maxUdpSize: number;
}

/** A client's TCP connection. */
export class ClientConnection implements TableEntry, AnswerListener {
  readonly #conn: Deno.TcpConn;
  readonly #options: ClientConnectionOptions;
  readonly #client: string;
  /** What the handler learns of every query on this connection. */
  readonly #context: QueryContext;
  /**
   * Queries being answered or whose answers (REFUSED ones too) are not
   * written yet; the connection closes only when none is left.
   */
  #inFlight = 0;
  /** Queries waiting for their answer from the handler. */
  #answering = 0;
  /** Wakes the read loop paused at the in-flight cap, when a query finishes. */
  #wakeReader: (() => void) | null = null;
  #writer: CoalescingWriter | null = null;
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
    this.#context = { transport: "tcp", client: conn.remoteAddr };
  }

  /** True when no query is in flight (a connection still reading its first byte is idle). */
  get idle(): boolean {
    return this.#inFlight === 0;
  }

  /** Settles when the connection is closed and everything in flight has ended. */
  get done(): Promise<void> {
    return this.#done;
  }

  /** Starts reading queries. */
  start(): void {
    this.#writer = new CoalescingWriter(
      this.#conn.writable.getWriter(),
      (error) => this.#writeFailed(error),
      {
        stallTimeoutMs: this.#options.idleTimeoutMs,
        onSettled: (answered, refused) => this.#settled(answered, refused),
      },
    );
    this.#done = this.#serve();
  }

  /** Finish what is in flight, then close. */
  drain(): void {
    this.#draining = true;
    if (this.#inFlight === 0) this.#closeWhenWritten();
  }

  /** Closes the connection at once; queries in flight are answered to nobody. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    this.#writer?.stop(); // what is still queued frees its slots now
    this.#wakeReader?.();
    this.#wakeReader = null;
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer's reset.
    }
  }

  async #serve(): Promise<void> {
    this.#armIdleTimer();
    try {
      // The connection's own read, not conn.readable: the stream closes the
      // socket at end of input, and a client that half-closes after its
      // queries must still get their answers.
      await readMessages(
        this.#conn,
        (query) => {
          if (this.#draining || this.#closed) return false;
          clearTimeout(this.#idleTimer);
          if (this.#options.denied) {
            // Nothing will ever be served to this client: say so once and hang up.
            this.#send(buildRefused(query, this.#options.maxUdpSize));
            return false;
          }
          this.#respond(query);
        },
        { beforeRead: () => this.#belowCap() },
      );
    } catch (error) {
      if (!this.#closed) {
        log.debug("TCP connection from {client} ended: {error}", {
          client: this.#client,
          error: (error as Error).message,
        });
      }
    }
    // Until every answer is written, or (closed) every query has left the handler.
    while ((this.#inFlight > 0 && !this.#closed) || this.#answering > 0) {
      await this.#oneFinished();
    }
    await this.#writer!.drained();
    this.close();
  }

  /** Pauses reading while the connection has its cap of queries in flight (RFC 7766 §6.2.1.1). */
  #belowCap(): Promise<void> | undefined {
    if (this.#inFlight < this.#options.maxInFlight || this.#closed) return undefined;
    return this.#oneFinished().then(() => this.#belowCap());
  }

  #oneFinished(): Promise<void> {
    return new Promise((resolve) => this.#wakeReader = resolve);
  }

  /** Answers one query, or refuses it when the client is over its rate or the proxy is full. */
  #respond(query: Uint8Array): void {
    const { admission, handler, maxUdpSize } = this.#options;
    // The TCP handshake proves the source address, so a REFUSED answer
    // cannot be reflected at anyone: tell the client at once rather than
    // leave it waiting for a timeout.
    if (!admission.withinRate(this.#options.address!) || !admission.tryStart()) {
      return this.#send(buildRefused(query, maxUdpSize));
    }
    this.#inFlight++;
    this.#answering++;
    handler.handle(query, this.#context, this);
  }

  /**
   * A query has its answer: queue it. Its slot (here and proxy-wide) stays
   * taken until the answer is written, so a client that does not read holds
   * at most its cap of answers in memory. Answers need not come in the
   * order of their queries (RFC 7766 §7), so the connection itself is every
   * query's listener.
   *
   * @param answer The answer, or null when there is none to send.
   */
  answered(answer: Uint8Array | null): void {
    this.#answering--;
    if (answer === null || this.#closed) return this.#settled(1, 0);
    this.#writer!.send(frame(answer));
  }

  /**
   * Answers written (or dropped, or never made): free their slots.
   *
   * @param answered Answers from the handler, each holding a proxy-wide slot.
   * @param refused REFUSED answers, which hold only a place under this connection's cap.
   */
  #settled(answered: number, refused: number): void {
    this.#options.admission.inFlight.release(answered);
    this.#inFlight -= answered + refused;
    const wake = this.#wakeReader;
    this.#wakeReader = null;
    wake?.();
    if (this.#inFlight > 0) return;
    if (this.#draining) this.#closeWhenWritten();
    else this.#armIdleTimer();
  }

  /**
   * Queues an answer that holds no proxy-wide slot (REFUSED). It counts
   * under the connection's cap until written, so that a client over its
   * rate that never reads pauses reading instead of growing the queue.
   */
  #send(answer: Uint8Array | null): void {
    if (answer === null || this.#closed) return;
    this.#inFlight++;
    this.#writer!.send(frame(answer), false);
  }

  #writeFailed(error: unknown): void {
    log.debug(
      error instanceof StalledWriteError
        ? "Closing TCP connection from {client}: it does not read its answers"
        : "Cannot send the answer to {client}: {error}",
      { client: this.#client, error: (error as Error).message },
    );
    this.close();
  }

  #closeWhenWritten(): void {
    this.#writer!.drained().then(() => this.close());
  }

  #armIdleTimer(): void {
    clearTimeout(this.#idleTimer);
    if (this.#closed) return;
    this.#idleTimer = setTimeout(() => this.close(), this.#options.idleTimeoutMs);
  }
}
