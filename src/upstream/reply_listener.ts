/**
 * How the outcome of a query sent upstream is told: the listener that the
 * connections and upstreams call, the reply they hand over, and the promise
 * form for what is not on the hot path.
 *
 * @module
 */

import type { MessageLayout } from "../wire/message.ts";
import { getLogger } from "../log.ts";

const log = getLogger("upstream");

/** A matched reply. */
export interface Exchanged {
  /** The reply as received, a copy that stays valid (it may share a slab: copy what is kept long). */
  readonly reply: Uint8Array;
  readonly layout: MessageLayout;
  /** Milliseconds from sending the query to its reply, connection set-up excluded. */
  readonly rttMs: number;
}

/**
 * Told the outcome of one query sent with `DotConnection.send` or `Upstream.send`:
 * exactly one of its methods is called, once.
 */
export interface ReplyListener {
  /**
   * The matched reply arrived.
   *
   * @param reply The reply as received (see {@linkcode Exchanged.reply}).
   * @param layout Its layout.
   * @param rttMs Milliseconds from sending the query to its reply.
   */
  replied(reply: Uint8Array, layout: MessageLayout, rttMs: number): void;
  /**
   * The query failed.
   *
   * @param error An `UpstreamError` ("timeout", "closed",
   * "bad-reply", "rejected"...), or any other error when something broke.
   */
  failed(error: unknown): void;
  /** Told, before the outcome, that the query waits for a new connection (for traces). */
  newConnection?(): void;
}

/**
 * Sends a framed query with `sender.send` and waits for the outcome: the
 * promise form of {@linkcode ReplyListener}, for what is not on the hot
 * path (health probes).
 *
 * @param sender A connection or an upstream.
 * @param frame The framed query.
 * @param layout The layout of its query.
 * @param timeoutMs The attempt's deadline.
 * @returns The matched reply.
 * @throws {UpstreamError} On any failure, with its reason.
 */
export function exchange(
  sender: {
    send(
      frame: Uint8Array,
      layout: MessageLayout,
      timeoutMs: number,
      listener: ReplyListener,
    ): void;
  },
  frame: Uint8Array,
  layout: MessageLayout,
  timeoutMs: number,
): Promise<Exchanged> {
  return new Promise<Exchanged>((resolve, reject) => {
    sender.send(frame, layout, timeoutMs, {
      replied: (reply, layout, rttMs) => resolve({ reply, layout, rttMs }),
      failed: reject,
    });
  });
}

/**
 * Logs what a listener threw (a bug further up) where a listener is told
 * from a promise's callback: thrown there, it would end the process as an
 * unhandled rejection instead of failing one query.
 *
 * @param upstream The upstream's label, for the log.
 * @returns A rejection handler.
 */
export function logListenerError(upstream: string): (error: unknown) => void {
  return (error) => {
    log.error("{upstream}: handling an upstream's outcome failed: {error}", { upstream, error });
  };
}
