/**
 * One DNS-over-TLS connection to an upstream, shared by many queries at once
 * (RFC 7858 §3.3 pipelining): each query gets an ID that is free on this
 * connection, replies are matched by ID and question in whatever order they
 * come, and a reply that does not match is refused (RFC 5452 §3).
 *
 * @module
 */

import { readMessages } from "../framing/message_reader.ts";
import { HEADER_LENGTH } from "../wire/constants.ts";
import { getId } from "../wire/header.ts";
import { type MessageLayout, parseMessage } from "../wire/message.ts";
import { isQuestionRejection, replyMismatch } from "../wire/reply_match.ts";
import { FRAME_PREFIX_LENGTH, setFrameId } from "../wire/upstream_query.ts";
import type { UpstreamSpec } from "./upstream_spec.ts";
import { getLogger } from "../log.ts";
import { describeConnectError } from "./tls_error.ts";
import { UpstreamError, type UpstreamFailure } from "./upstream_error.ts";
import { connectWithClientCertificate } from "./client_certificate_connect.ts";
import { checkPins, PinMismatchError } from "./spki_pin.ts";
import { CoalescingWriter } from "../framing/coalescing_writer.ts";
import type { ReplyListener } from "./reply_listener.ts";
import { PendingQueries, type PendingQuery } from "./pending_queries.ts";
import type { IdleCloseLearner } from "./idle_close.ts";

const log = getLogger("upstream");

/** How to open a connection. */
export interface DotConnectionOptions {
  readonly spec: UpstreamSpec;
  /** Extra trusted CA certificates (PEM), added to the built-in roots. */
  readonly caCerts: readonly string[];
  /** Deadline for TCP connect plus TLS handshake. */
  readonly connectTimeoutMs: number;
  /** Close the connection after this long without queries (RFC 7766 §6.2.4). */
  readonly idleTimeoutMs: number;
  /** Told when the server's key matched no pin of `spec.pins` (the connection is not used). */
  readonly onPinMismatch?: () => void;
  /** The upstream's idle closes, learned across its connections; retires them just before. */
  readonly idleClose?: IdleCloseLearner;
}

/** How often pending queries are checked against their deadlines. */
const SWEEP_INTERVAL_MS = 50;

/** Abandoned IDs kept per connection before it is recycled. */
const MAX_ABANDONED = 1024;

/** A pipelined DNS-over-TLS connection. */
export class DotConnection {
  readonly #label: string;
  readonly #conn: Deno.TlsConn;
  readonly #writer: CoalescingWriter;
  readonly #idleTimeoutMs: number;
  readonly #presentsCertificate: boolean;
  readonly #idleClose: IdleCloseLearner | undefined;
  /** Queries sent and not yet answered; all rejected on close. */
  readonly #pending = new PendingQueries();
  #lastReadAt = 0;
  /** When the connection last went idle (opened, or its last waiting query settled). */
  #idleSince = 0;
  /** When the first query after the last idle time was sent. */
  #busySince = 0;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  /** Runs while queries are pending, abandoning those past their deadline. */
  #sweepTimer: ReturnType<typeof setInterval> | undefined;
  #closeReason: string | null = null;
  /** What the waiting queries are told on close: "tls" when the server refused us at once. */
  #failure: UpstreamFailure = "closed";
  /** Settles when the connection is closed and its read loop has ended. */
  readonly done: Promise<void>;

  private constructor(conn: Deno.TlsConn, options: DotConnectionOptions) {
    this.#label = options.spec.label;
    this.#conn = conn;
    this.#writer = new CoalescingWriter(conn.writable.getWriter(), (error) => {
      this.close(`write failed: ${describeConnectError(error, "")}`);
    });
    this.#idleTimeoutMs = options.idleTimeoutMs;
    this.#presentsCertificate = options.spec.clientCert !== undefined;
    this.#idleClose = options.idleClose;
    this.done = this.#readLoop();
    this.#armIdleTimer();
  }

  /**
   * Connects over TCP to the upstream's IP and completes a TLS handshake that
   * verifies the certificate chain and the authentication name (RFC 8310
   * strict profile), presents `spec.clientCert` when set, and checks the
   * server's key against `spec.pins` when set, before anything is written.
   * There is no fallback of any kind.
   *
   * @param options Where and how to connect.
   * @returns The open connection.
   * @throws {UpstreamError} With reason "connect" or "tls".
   */
  static async open(options: DotConnectionOptions): Promise<DotConnection> {
    const { spec } = options;
    if (spec.clientCert !== undefined) {
      return await DotConnection.#verified(await connectWithClientCertificate(options), options);
    }
    const deadline = AbortSignal.timeout(options.connectTimeoutMs);
    let tcp: Deno.TcpConn;
    try {
      tcp = await Deno.connect({ hostname: spec.address, port: spec.port, signal: deadline });
    } catch (error) {
      const detail = describeConnectError(error, spec.authName);
      throw new UpstreamError("connect", spec.label, `Cannot connect: ${detail}`, { cause: error });
    }
    // Queries leave at once: with Nagle's algorithm a frame written while an
    // earlier one is unacknowledged waits for the server's delayed ACK (up
    // to 40 ms on Linux). Our writes are already coalesced per turn of the
    // event loop, so nothing is gained by waiting.
    tcp.setNoDelay(true);
    let tls: Deno.TlsConn | undefined;
    const onTimeout = () => (tls ?? tcp).close();
    deadline.addEventListener("abort", onTimeout);
    try {
      tls = await Deno.startTls(tcp, {
        hostname: spec.authName,
        caCerts: [...options.caCerts],
        alpnProtocols: ["dot"],
      });
      await tls.handshake();
    } catch (error) {
      try {
        (tls ?? tcp).close();
      } catch {
        // Already closed by the timeout or by the failed handshake.
      }
      const detail = deadline.aborted
        ? "TLS handshake timed out"
        : describeConnectError(error, spec.authName);
      throw new UpstreamError("tls", spec.label, `TLS handshake failed: ${detail}`, {
        cause: error,
      });
    } finally {
      deadline.removeEventListener("abort", onTimeout);
    }
    return DotConnection.#verified(tls, options);
  }

  /** The connection, once its server's key matches a pin (when pins are set). */
  static #verified(tls: Deno.TlsConn, options: DotConnectionOptions): DotConnection {
    const { spec } = options;
    if (spec.pins !== undefined) {
      try {
        checkPins(tls, spec.pins);
      } catch (error) {
        tls.close();
        if (!(error instanceof PinMismatchError)) throw error;
        options.onPinMismatch?.();
        log.warn("{upstream}: connection closed unused: {reason}", {
          upstream: spec.label,
          reason: error.message,
          pin: error.pin,
        });
        throw new UpstreamError("tls", spec.label, `Key pin mismatch: ${error.message}`, {
          cause: error,
        });
      }
    }
    return new DotConnection(tls, options);
  }

  /** Queries waiting for their answer. */
  get inFlight(): number {
    return this.#pending.waiting;
  }

  /** Whether the connection can take no more queries. */
  get closed(): boolean {
    return this.#closeReason !== null;
  }

  /**
   * Sends a framed query; its listener learns the outcome. Callbacks rather
   * than a promise: the forwarder's own object per query is the listener,
   * so no promise or closure waits with the query for its reply (see
   * forwarder.ts for what that buys).
   *
   * @param frame The framed query (length prefix first); its ID is overwritten.
   * @param layout The layout of the query in the frame.
   * @param timeoutMs How long to wait for the reply (the attempt's deadline).
   * @param listener Told the matched reply, or the failure: "timeout" when no
   * reply comes in time, "closed" when the connection ends first (at once if
   * it is closed already), "bad-reply" or "rejected" when the answer does
   * not match.
   */
  send(frame: Uint8Array, layout: MessageLayout, timeoutMs: number, listener: ReplyListener): void {
    if (this.#closeReason !== null) {
      return listener.failed(new UpstreamError("closed", this.#label, this.#closeReason));
    }
    // Deadlines are checked by one sweep timer per connection rather than a
    // timer per query: the profile showed timer creation and clearing at
    // about 4 % of the CPU per query, and AbortSignal.timeout cost more.
    const sentAt = performance.now();
    if (this.#pending.waiting === 0) {
      clearTimeout(this.#idleTimer); // armed only while idle
      this.#busySince = sentAt;
    }
    const pending = this.#pending.add(frame, layout, sentAt, sentAt + timeoutMs, listener);
    if (pending === null) {
      return listener.failed(new UpstreamError("closed", this.#label, "every query ID is in use"));
    }
    setFrameId(frame, pending.id);
    this.#sweepTimer ??= setInterval(() => this.#sweep(), SWEEP_INTERVAL_MS);
    this.#writer.send(frame);
  }

  /**
   * Closes the connection; queries still waiting fail with "closed" so that
   * the caller can resend them elsewhere.
   *
   * @param reason Why, for logs and for the queries' errors.
   */
  close(reason = "closed by the proxy"): void {
    if (this.#closeReason !== null) return;
    this.#closeReason = reason;
    this.#shutDown(reason);
  }

  /** Closes the socket and fails the queries waiting; `#closeReason` is set already. */
  #shutDown(reason: string): void {
    clearTimeout(this.#idleTimer);
    try {
      this.#conn.close();
    } catch {
      // The resource is already gone (the read loop saw the end first).
    }
    clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
    const waiting = this.#pending.clear();
    this.#writer.stop();
    // Told once the connection is closed for good: a listener may resend at once.
    for (const pending of waiting) {
      this.#fail(pending, new UpstreamError(this.#failure, this.#label, reason));
    }
  }

  async #readLoop(): Promise<void> {
    let reason = "server closed the connection";
    let badReply = false;
    try {
      await readMessages(this.#conn.readable, (message) => {
        if (message.length < HEADER_LENGTH) {
          reason = `bad reply: message of ${message.length} octets`;
          badReply = true;
          return false;
        }
        this.#deliver(message);
      }, { onRead: () => this.#lastReadAt = performance.now() });
    } catch (error) {
      if (this.#closeReason === null) reason = this.#readFailure(error);
    }
    if (this.#closeReason === null) {
      log.debug("{upstream}: {reason}", { upstream: this.#label, reason });
      if (!badReply && this.#failure === "closed") this.#learnIdleClose();
    }
    this.close(reason);
  }

  /**
   * Why reading failed. A TLS alert before anything was read is the server
   * refusing the handshake: in TLS 1.3 the client is done before the server
   * has checked its certificate (RFC 8446 §4.4.2), so a missing or unwanted
   * client certificate shows here, not in `handshake()`.
   */
  #readFailure(error: unknown): string {
    const detail = describeConnectError(error, "");
    const refused = error instanceof Deno.errors.InvalidData ||
      (error instanceof Deno.errors.UnexpectedEof && this.#presentsCertificate);
    if (this.#lastReadAt !== 0 || !refused) return detail;
    this.#failure = "tls";
    log.warn("{upstream}: the server refused the TLS connection: {reason}", {
      upstream: this.#label,
      reason: detail,
    });
    return `TLS handshake failed: ${detail}`;
  }

  /**
   * The server closed the connection: tell the upstream's learner how long
   * it had been idle, when it was (see idle_close.ts).
   */
  #learnIdleClose(): void {
    if (this.#idleClose === undefined) return;
    if (this.#pending.waiting === 0) {
      return this.#idleClose.observe(performance.now() - this.#idleSince);
    }
    // Queries crossed the close: nothing came back since the first of them
    // went out, so the server closed after the idle time before it.
    if (this.#lastReadAt < this.#busySince) {
      this.#idleClose.observe(this.#busySince - this.#idleSince);
    }
  }

  #deliver(message: Uint8Array): void {
    const id = getId(message);
    const pending = this.#pending.take(id);
    if (pending === undefined) {
      log.debug("{upstream}: reply with unknown ID {id} ignored", { upstream: this.#label, id });
      return;
    }
    if (pending.abandoned) return;
    if (this.#pending.waiting === 0) this.#armIdleTimer();
    let layout: MessageLayout;
    try {
      layout = parseMessage(message);
    } catch (error) {
      const detail = `malformed reply: ${(error as Error).message}`;
      this.#fail(pending, new UpstreamError("bad-reply", this.#label, detail, { cause: error }));
      return;
    }
    const mismatch = replyMismatch(
      message,
      layout,
      pending.frame,
      pending.layout,
      FRAME_PREFIX_LENGTH,
    );
    if (mismatch !== null) {
      this.#fail(
        pending,
        new UpstreamError(
          isQuestionRejection(message, layout) ? "rejected" : "bad-reply",
          this.#label,
          `reply refused: ${mismatch}`,
        ),
      );
      return;
    }
    try {
      pending.listener.replied(message, layout, this.#lastReadAt - pending.sentAt);
    } catch (error) {
      log.error("{upstream}: handling a reply failed: {error}", { upstream: this.#label, error });
    }
  }

  /** The query timed out: keep its ID reserved so a late reply cannot match a newer query. */
  #abandon(pending: PendingQuery): void {
    this.#pending.abandon(pending);
    const waited = Math.round(performance.now() - pending.sentAt);
    let closing: string | null = null;
    if (this.#lastReadAt < pending.sentAt) {
      // Nothing at all came back since this query went out: the connection
      // may be dead without a close (a route change, a silent middlebox), so
      // stop using it and let the other queries go out on a fresh one.
      closing = `no data for ${waited} ms; connection presumed dead`;
    } else if (this.#pending.abandoned > MAX_ABANDONED) {
      closing = "too many unanswered queries";
    } else if (this.#pending.waiting === 0) {
      this.#armIdleTimer();
    }
    // The timed-out query hears first, so that its failure counts against
    // the upstream's health before the others resend; the connection is
    // marked closed already, so that its own retry goes elsewhere.
    if (closing !== null) this.#closeReason = closing;
    this.#fail(pending, new UpstreamError("timeout", this.#label, `no answer within ${waited} ms`));
    if (closing !== null) this.#shutDown(closing);
  }

  /**
   * Tells a query's listener that it failed. Listeners run inside the read
   * loop and the timers, so one that throws (a bug further up) is logged
   * here rather than allowed to end the connection for every other query.
   */
  #fail(pending: PendingQuery, error: unknown): void {
    try {
      pending.listener.failed(error);
    } catch (thrown) {
      log.error("{upstream}: handling a failed query failed: {error}", {
        upstream: this.#label,
        error: thrown,
      });
    }
  }

  #sweep(): void {
    const now = performance.now();
    let pending = this.#pending.oldest;
    while (pending !== null && this.#closeReason === null) {
      const next = pending.newer;
      if (pending.deadline <= now) this.#abandon(pending);
      pending = next;
    }
    if (this.#pending.waiting === 0 && this.#sweepTimer !== undefined) {
      clearInterval(this.#sweepTimer);
      this.#sweepTimer = undefined;
    }
  }

  #armIdleTimer(): void {
    clearTimeout(this.#idleTimer);
    const now = this.#idleSince = performance.now();
    const idleMs = this.#idleClose?.retireAfter(this.#idleTimeoutMs, now) ?? this.#idleTimeoutMs;
    this.#idleTimer = setTimeout(() => this.close("idle"), idleMs);
  }
}
