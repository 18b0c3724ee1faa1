/**
 * A plaintext DNS upstream for forward zones inside the trust boundary
 * (`udp://IP[:PORT]`, e.g. kube-dns). Each query goes out from a fresh UDP
 * socket (a random source port chosen by the kernel) under a random ID, and
 * a reply is accepted only from the address and port it was sent to, with
 * that ID and the same question (RFC 5452 §3, §9.2); anything else is
 * discarded, counted as forged, and the real reply still awaited: a flood
 * of forgeries cannot fail the query, only make a forger's guess of ID and
 * port more likely with its sheer number. A truncated reply is retried over
 * TCP.
 *
 * @module
 */

import { frame as framed } from "../framing/length_prefix_decoder.ts";
import { readMessages } from "../framing/message_reader.ts";
import { HEADER_LENGTH } from "../wire/constants.ts";
import { COUNT_OFFSET, getId, isTruncated, setId, writeU16 } from "../wire/header.ts";
import { type MessageLayout, parseMessage } from "../wire/message.ts";
import { isQuestionRejection, replyMismatch } from "../wire/reply_match.ts";
import { FRAME_PREFIX_LENGTH } from "../wire/upstream_query.ts";
import { PROBE_QUERY_FRAME, PROBE_QUERY_LAYOUT } from "./probe_query.ts";
import type { PlainUpstreamSpec } from "./upstream_spec.ts";
import type { UpstreamSeries } from "./upstream.ts";
import { getLogger } from "../log.ts";
import { type Exchanged, logListenerError, type ReplyListener } from "./reply_listener.ts";
import { UpstreamHealth } from "./health.ts";
import type { Upstream } from "./upstream.ts";
import { UpstreamError } from "./upstream_error.ts";

const log = getLogger("upstream");

/** Settings of a plaintext upstream. */
export interface PlainUpstreamOptions {
  readonly spec: PlainUpstreamSpec;
  readonly metrics: UpstreamSeries;
}

/** A plaintext DNS upstream over UDP, with TCP for truncated replies. */
export class PlainUpstream implements Upstream {
  readonly label: string;
  readonly health: UpstreamHealth;
  readonly metrics: UpstreamSeries;
  readonly #address: Deno.NetAddr;
  #inFlight = 0;

  /** @param options Address and metrics. */
  constructor(options: PlainUpstreamOptions) {
    this.label = options.spec.label;
    this.metrics = options.metrics;
    this.#address = { transport: "udp", hostname: options.spec.address, port: options.spec.port };
    this.health = new UpstreamHealth({
      label: this.label,
      probe: async (timeoutMs) => {
        await this.exchange(PROBE_QUERY_FRAME.slice(), PROBE_QUERY_LAYOUT, timeoutMs);
      },
    });
  }

  /** Plaintext upstreams keep no connection open. */
  get openConnections(): number {
    return 0;
  }

  /** Queries waiting for an answer. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Sends a framed query; the listener is told the outcome of {@linkcode exchange}.
   *
   * @param frame A frame from `buildUpstreamFrame`.
   * @param layout The layout of its query.
   * @param timeoutMs The attempt's deadline.
   * @param listener Told the matched reply, or the failure.
   */
  send(frame: Uint8Array, layout: MessageLayout, timeoutMs: number, listener: ReplyListener): void {
    this.exchange(frame, layout, timeoutMs).then(
      ({ reply, layout, rttMs }) => listener.replied(reply, layout, rttMs),
      (error) => listener.failed(error),
    ).catch(logListenerError(this.label));
  }

  /**
   * Sends the query in a frame, without the frame's padding (padding is for
   * encrypted transports only, RFC 7830), and waits for a valid reply.
   *
   * @param frame A frame from `buildUpstreamFrame`.
   * @param layout The layout of its query.
   * @param timeoutMs The attempt's deadline.
   * @returns The matched reply.
   * @throws {UpstreamError} "timeout" without a valid reply in time, "connect"
   * when the TCP retry cannot connect, "closed" when it ends early.
   */
  async exchange(frame: Uint8Array, layout: MessageLayout, timeoutMs: number): Promise<Exchanged> {
    const query = unpadded(frame, layout);
    setId(query, crypto.getRandomValues(new Uint16Array(1))[0]!);
    const deadline = performance.now() + timeoutMs;
    this.#inFlight++;
    try {
      const reply = await this.#overUdp(query, layout, timeoutMs);
      if (!isTruncated(reply.reply)) return reply;
      return await this.#overTcp(query, layout, Math.max(deadline - performance.now(), 1));
    } finally {
      this.#inFlight--;
    }
  }

  /** Nothing to close but the probe. */
  async close(): Promise<void> {
    await this.health.close();
  }

  async #overUdp(query: Uint8Array, layout: MessageLayout, timeoutMs: number): Promise<Exchanged> {
    const wildcard = this.#address.hostname.includes(":") ? "::" : "0.0.0.0";
    const socket = Deno.listenDatagram({ transport: "udp", hostname: wildcard, port: 0 });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      socket.close();
    }, timeoutMs);
    try {
      const sentAt = performance.now();
      await socket.send(query, this.#address);
      for (;;) {
        const [reply, from] = await socket.receive();
        const sender = from as Deno.NetAddr;
        const problem =
          sender.hostname !== this.#address.hostname || sender.port !== this.#address.port
            ? `reply from unexpected ${sender.hostname}:${sender.port}`
            : check(reply, query, layout);
        if (problem === null) {
          // The reply is a view of a 64 KiB receive buffer: keep only its octets.
          const owned = reply.slice();
          return { reply: owned, layout: parseMessage(owned), rttMs: performance.now() - sentAt };
        }
        if (problem === REJECTED) throw new UpstreamError("rejected", this.label, REJECTED);
        this.metrics.forged.inc();
        log.debug("{upstream}: reply discarded: {problem}", { upstream: this.label, problem });
      }
    } catch (error) {
      if (error instanceof UpstreamError) throw error;
      if (timedOut) {
        throw new UpstreamError("timeout", this.label, `no valid answer within ${timeoutMs} ms`);
      }
      throw new UpstreamError("connect", this.label, (error as Error).message, { cause: error });
    } finally {
      clearTimeout(timer);
      if (!timedOut) socket.close();
    }
  }

  async #overTcp(query: Uint8Array, layout: MessageLayout, timeoutMs: number): Promise<Exchanged> {
    let conn: Deno.TcpConn;
    try {
      conn = await Deno.connect({
        hostname: this.#address.hostname,
        port: this.#address.port,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new UpstreamError(
        "connect",
        this.label,
        `Cannot connect over TCP: ${(error as Error).message}`,
      );
    }
    const timer = setTimeout(() => conn.close(), timeoutMs);
    try {
      const sentAt = performance.now();
      const writer = conn.writable.getWriter();
      await writer.write(framed(query));
      writer.releaseLock();
      let first: Uint8Array | undefined;
      await readMessages(conn.readable, (reply) => {
        first = reply;
        return false; // one query on this connection: its first message is the answer or a lie
      });
      if (first !== undefined) {
        const problem = check(first, query, layout);
        if (problem === null) {
          return { reply: first, layout: parseMessage(first), rttMs: performance.now() - sentAt };
        }
        const reason = problem === REJECTED ? "rejected" : "bad-reply";
        throw new UpstreamError(reason, this.label, `reply refused: ${problem}`);
      }
      throw new UpstreamError("closed", this.label, "TCP connection closed before the answer");
    } catch (error) {
      if (error instanceof UpstreamError) throw error;
      throw new UpstreamError("timeout", this.label, `no answer over TCP within ${timeoutMs} ms`);
    } finally {
      clearTimeout(timer);
      try {
        conn.close();
      } catch {
        // Closed by the timer.
      }
    }
  }
}

/** What `check` says of a reply with our ID that rejects the question itself. */
const REJECTED = "the upstream rejected the question";

/** Why a reply does not answer the query ({@linkcode REJECTED} among the reasons), or null. */
function check(reply: Uint8Array, query: Uint8Array, layout: MessageLayout): string | null {
  if (reply.length < HEADER_LENGTH) return "shorter than a header";
  if (getId(reply) !== getId(query)) return "wrong ID";
  try {
    const replyLayout = parseMessage(reply);
    if (isQuestionRejection(reply, replyLayout)) return REJECTED;
    return replyMismatch(reply, replyLayout, query, layout);
  } catch (error) {
    return `malformed: ${(error as Error).message}`;
  }
}

/** The query of a frame with an empty OPT record instead of the padded one. */
function unpadded(frame: Uint8Array, layout: MessageLayout): Uint8Array {
  const message = frame.slice(FRAME_PREFIX_LENGTH, FRAME_PREFIX_LENGTH + layout.questionEnd + 11);
  writeU16(message, COUNT_OFFSET.AR, 1);
  writeU16(message, layout.questionEnd + 9, 0); // RDLENGTH: no options
  return message;
}
