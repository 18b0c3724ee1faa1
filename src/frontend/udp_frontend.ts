/**
 * Plain DNS over UDP: each datagram is handled on its own, so a slow
 * upstream answer never holds up the next datagram.
 *
 * Before a datagram reaches the query handler it passes the shared
 * admission checks. Over UDP the source address can be forged, so a client
 * outside the access list or over its rate gets no answer at all (as with
 * dnsdist's ACL and Blocky's rate limit): an answer would let a forger aim
 * it at a victim. ANY gets an empty TC=1 answer, and a full proxy answers
 * REFUSED; neither is ever larger than the query.
 *
 * @module
 */

import { copyBytes } from "../wire/byte_slab.ts";
import { MAX_MESSAGE_SIZE } from "../wire/constants.ts";
import type { Admission } from "../access/admission.ts";
import { type IpAddress, parseIp } from "../access/ip_address.ts";
import { buildAnyTruncated, buildRefused } from "../access/refusals.ts";
import type { AnswerListener, QueryContext, QueryHandler } from "../query_handler.ts";
import { getLogger } from "../log.ts";
import { ReusePortUdpSocket, type UdpSocket } from "./reuse_port_udp.ts";
import { decodeAddress, ipFromSocketAddress, sameHost } from "./socket_address.ts";
import type { FlushResult } from "./answer_batch.ts";

const log = getLogger("udp");

/** Receives kept waiting on a Deno socket at once. */
const RECEIVE_LOOPS = 8;
/**
 * Batches a libc socket takes in a row, while queries wait on an upstream,
 * before it lets the event loop run (their replies, timers, TCP clients).
 */
const BATCHES_PER_TURN = 8;
/**
 * While no query waits on an upstream, longest a libc socket's run of
 * batches holds the event loop instead.
 */
const TURN_MS = 2;
/**
 * Longest wait for the next datagram on the event loop's own thread, taken
 * only while no query waits on an upstream: between the batches of a busy
 * stream of cache hits it costs less than a trip to the blocking thread
 * pool (two threads woken per batch), and the batches grow.
 */
const WAIT_MICROS = 300;
/** Pause after a failed receive: doubling from the first to the last, while they fail in a row. */
const RECEIVE_BACKOFF_FIRST_MS = 10;
const RECEIVE_BACKOFF_MAX_MS = 1000;

/** Settings of the UDP frontend. */
export interface UdpFrontendOptions {
  /** Access list, rate limit and in-flight cap, shared with the other frontends. */
  readonly admission: Admission;
  /** UDP size advertised in the OPT record of the answers the frontend writes. @default {1232} */
  readonly maxUdpSize?: number;
}

/** Serves DNS queries arriving on one UDP socket. */
export class UdpFrontend {
  readonly #listener: UdpSocket;
  readonly #handler: QueryHandler;
  readonly #admission: Admission;
  readonly #maxUdpSize: number;
  /** Queries being answered, and how a drain learns that the last one is done. */
  #inFlight = 0;
  #allAnswered: (() => void) | null = null;
  #draining = false;
  #closed = false;
  /** Receives failed in a row (logged on the first), and what ends their pauses early. */
  #receiveFailures = 0;
  readonly #closing = Promise.withResolvers<void>();
  /** The last client address parsed, and its text or (libc socket) its structure. */
  #lastHostname = "";
  #lastAddress: IpAddress | null = null;
  readonly #lastName = new Uint8Array(28);
  /** The query of the batch being handled (libc socket): its answer, if given now, is queued. */
  #current: UdpQuery | null = null;
  /** Settles when the socket is closed and the receive loop has ended. */
  readonly done: Promise<void>;

  /**
   * Starts serving.
   *
   * @param listener A bound UDP socket (Deno's, or one with SO_REUSEPORT).
   * @param handler Answers each query.
   * @param options Admission checks.
   */
  constructor(listener: UdpSocket, handler: QueryHandler, options: UdpFrontendOptions) {
    this.#listener = listener;
    this.#handler = handler;
    this.#admission = options.admission;
    this.#maxUdpSize = options.maxUdpSize ?? 1232;
    // Several receives wait on the socket at once, so that one turn of the
    // event loop can bring in several datagrams, and the upstream writes
    // they cause go out together (see DotConnection#send).
    // A libc socket brings batches instead: see #batchLoop.
    this.done = listener instanceof ReusePortUdpSocket
      ? this.#batchLoop(listener)
      : Promise.all(Array.from({ length: RECEIVE_LOOPS }, () => this.#receiveLoop())).then(
        () => {},
      );
  }

  /** The bound address. */
  get addr(): Deno.NetAddr {
    return this.#listener.addr as Deno.NetAddr;
  }

  /**
   * Stops taking queries, waits for those in flight (at most `graceMs`),
   * then closes the socket.
   *
   * @param graceMs Longest wait for queries in flight.
   */
  async drain(graceMs: number): Promise<void> {
    this.#draining = true;
    if (this.#inFlight > 0) {
      const allAnswered = new Promise<void>((resolve) => this.#allAnswered = resolve);
      await settleWithin([allAnswered], graceMs);
    }
    this.close();
    await this.done;
  }

  /** Closes the socket at once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.resolve();
    this.#listener.close();
  }

  async #receiveLoop(): Promise<void> {
    // One buffer for every receive; each datagram is copied out of it before
    // the next receive, which avoids a 64 KiB allocation per datagram.
    const buffer = new Uint8Array(MAX_MESSAGE_SIZE);
    while (!this.#closed) {
      let datagram: Uint8Array;
      let client: Deno.NetAddr;
      try {
        const [data, addr] = await this.#listener.receive(buffer);
        datagram = data;
        client = addr as Deno.NetAddr;
      } catch (error) {
        if (this.#closed) return;
        await this.#receiveFailed(error as Error);
        continue;
      }
      if (this.#receiveFailures > 0) this.#receiveRecovered();
      if (this.#draining) continue;
      const address = this.#clientAddress(client.hostname);
      if (!this.#admission.allows(address) || !this.#admission.withinRate(address!)) continue;
      const query = copyBytes(datagram);
      const early = this.#answerEarly(query);
      if (early === undefined) {
        this.#answer(query, client);
      } else {
        // Awaited here, not tracked: the receive loop cannot outrun its own
        // sends, so a flood cannot pile up pending sends.
        await this.#send(early, client);
      }
    }
  }

  /**
   * Serves a libc socket batch by batch: every query of a batch is handled
   * in one go, and the answers the proxy has at once (cache hits, refusals)
   * leave together in one `sendmmsg` before the next receive; answers that
   * come later from an upstream are sent on their own. While datagrams keep
   * coming, batches are taken on the event loop's thread without a trip to
   * the blocking thread pool: {@linkcode BATCHES_PER_TURN} of them while
   * queries wait on an upstream, else for up to {@linkcode TURN_MS}, a
   * short gap waited out there too (see {@linkcode WAIT_MICROS}).
   */
  async #batchLoop(socket: ReusePortUdpSocket): Promise<void> {
    while (!this.#closed) {
      let count: number;
      try {
        count = await socket.receiveBatch();
      } catch (error) {
        if (this.#closed) return;
        await this.#receiveFailed(error as Error);
        continue;
      }
      if (this.#receiveFailures > 0) this.#receiveRecovered();
      const turnEnds = performance.now() + TURN_MS;
      for (let batches = 1; count > 0 && !this.#closed; batches++) {
        this.#serveBatch(socket, count);
        const flushed = socket.flushAnswers();
        if (flushed !== null && flushed.failed > 0) this.#batchSendFailed(flushed);
        const nothingInFlight = this.#admission.inFlight.count === 0;
        if (nothingInFlight ? performance.now() >= turnEnds : batches >= BATCHES_PER_TURN) break;
        count = socket.receiveNow();
        if (count === 0 && nothingInFlight && socket.waitNow(WAIT_MICROS)) {
          count = socket.receiveNow();
        }
      }
    }
  }

  #serveBatch(socket: ReusePortUdpSocket, count: number): void {
    if (this.#draining) return;
    for (let i = 0; i < count; i++) {
      const name = socket.senderName(i);
      if (!sameHost(name, this.#lastName)) {
        this.#lastName.fill(0).set(name);
        this.#lastHostname = "";
        this.#lastAddress = ipFromSocketAddress(name);
      }
      const address = this.#lastAddress!;
      if (!this.#admission.allows(address) || !this.#admission.withinRate(address)) continue;
      const query = copyBytes(socket.datagram(i));
      const early = this.#answerEarly(query);
      if (early === undefined) {
        this.#inFlight++;
        const waiting = new UdpQuery(null, this.#reply, name, i);
        this.#current = waiting;
        this.#handler.handle(query, waiting, waiting);
        this.#current = null;
        // Still waiting (for an upstream): it keeps its own copy of the address.
        if (!waiting.done) waiting.keepName();
      } else if (early !== null && !socket.queueAnswer(i, early)) {
        this.#send(early, decodeAddress(name.slice()));
      }
    }
  }

  #batchSendFailed(flushed: FlushResult): void {
    log.debug("Cannot send {failed} of {count} answers: errno {errno}", {
      failed: flushed.failed,
      count: flushed.failed + flushed.sent,
      errno: flushed.errno,
    });
  }

  /**
   * A receive failed: logged on the first failure of a run, then a pause
   * that doubles while they go on (bounded), so that a lasting error is no
   * busy loop of failing calls.
   */
  async #receiveFailed(error: Error): Promise<void> {
    if (this.#receiveFailures++ === 0) {
      log.warn("Cannot receive on {address}: {error}; retrying with a growing pause", {
        address: `${this.addr.hostname}:${this.addr.port}`,
        error: error.message,
      });
    }
    const ms = Math.min(
      RECEIVE_BACKOFF_MAX_MS,
      RECEIVE_BACKOFF_FIRST_MS * 2 ** Math.min(this.#receiveFailures - 1, 16),
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const paused = new Promise<void>((resolve) => timer = setTimeout(resolve, ms));
    await Promise.race([paused, this.#closing.promise]);
    clearTimeout(timer);
  }

  #receiveRecovered(): void {
    log.info("Receiving again on {address} after {failures} failed receives", {
      address: `${this.addr.hostname}:${this.addr.port}`,
      failures: this.#receiveFailures,
    });
    this.#receiveFailures = 0;
  }

  /**
   * The client's address, parsed once for a run of datagrams from the same
   * client (the common case: a stub or a forwarder sending many queries).
   */
  #clientAddress(hostname: string): IpAddress | null {
    if (hostname !== this.#lastHostname) {
      this.#lastHostname = hostname;
      this.#lastAddress = parseIp(hostname);
    }
    return this.#lastAddress;
  }

  /**
   * The answer the frontend gives itself (TC=1 to ANY, REFUSED when full),
   * null to drop, or undefined when the query goes to the handler (it then
   * holds a slot in flight).
   */
  #answerEarly(query: Uint8Array): Uint8Array | null | undefined {
    const truncated = buildAnyTruncated(query, this.#maxUdpSize);
    if (truncated !== null) {
      this.#admission.count("anyTruncated");
      return truncated;
    }
    if (this.#admission.tryStart()) return undefined;
    return buildRefused(query, this.#maxUdpSize);
  }

  /** Answers a query that holds a slot in flight until its answer is sent. */
  #answer(query: Uint8Array, client: Deno.NetAddr): void {
    this.#inFlight++;
    const waiting = new UdpQuery(client, this.#reply);
    this.#handler.handle(query, waiting, waiting);
  }

  /** Sends an answer to its client; the query's slot is free once it is sent. */
  readonly #reply = (answer: Uint8Array | null, query: UdpQuery): void => {
    if (answer === null || this.#closed) return this.#finished();
    if (
      query === this.#current &&
      (this.#listener as ReusePortUdpSocket).queueAnswer(query.slot, answer)
    ) {
      return this.#finished(); // goes out with its batch
    }
    const client = query.client;
    this.#listener.send(answer, client).then(this.#finished, (error) => {
      this.#sendFailed(error, client);
      this.#finished();
    });
  };

  /** A query's slot is free again. */
  readonly #finished = (): void => {
    this.#admission.inFlight.release();
    if (--this.#inFlight === 0 && this.#allAnswered !== null) this.#allAnswered();
  };

  async #send(answer: Uint8Array | null, client: Deno.NetAddr): Promise<void> {
    if (answer === null || this.#closed) return;
    try {
      await this.#listener.send(answer, client);
    } catch (error) {
      this.#sendFailed(error, client);
    }
  }

  #sendFailed(error: unknown, client: Deno.NetAddr): void {
    log.debug("Cannot send the answer to {client}: {error}", {
      client: `${client.hostname}:${client.port}`,
      error: (error as Error).message,
    });
  }
}

/**
 * A query from a UDP client while it is answered: its context for the
 * handler, and the listener that sends the answer back. One object, since
 * it waits as long as the upstream takes (see forwarder.ts for why that
 * matters).
 */
class UdpQuery implements QueryContext, AnswerListener {
  readonly transport = "udp" as const;
  /** Whether it was answered. */
  done = false;
  #client: Deno.NetAddr | null;
  /** The sender's address structure (libc socket): in its batch's buffer until kept. */
  #name: Uint8Array | null;

  /**
   * @param client The client, or null to make it from `name` when asked.
   * @param reply Sends the answer.
   * @param name The client's address structure (libc socket).
   * @param slot The query's index in its batch (libc socket).
   */
  constructor(
    client: Deno.NetAddr | null,
    readonly reply: (answer: Uint8Array | null, query: UdpQuery) => void,
    name: Uint8Array | null = null,
    readonly slot = -1,
  ) {
    this.#client = client;
    this.#name = name;
  }

  /** The client (its text is made only when needed: logs, a late answer). */
  get client(): Deno.NetAddr {
    return this.#client ??= decodeAddress(this.#name!.slice());
  }

  /** Copies the address out of the batch's buffer, which the next receive overwrites. */
  keepName(): void {
    this.#name = this.#name!.slice();
  }

  /** See {@linkcode AnswerListener}. */
  answered(answer: Uint8Array | null): void {
    this.done = true;
    this.reply(answer, this);
  }
}

/**
 * Waits until every promise settles or `ms` passes, whichever comes first.
 *
 * @param promises What to wait for.
 * @param ms Longest wait.
 */
export async function settleWithin(promises: Promise<unknown>[], ms: number): Promise<void> {
  if (promises.length === 0) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((resolve) => timer = setTimeout(resolve, ms));
  await Promise.race([Promise.allSettled(promises), timeout]);
  clearTimeout(timer);
}
