/**
 * Plain DNS over UDP: each datagram is handled on its own, so a slow
 * upstream answer never holds up the next datagram.
 *
 * @module
 */

import { MAX_MESSAGE_SIZE } from "../wire/constants.ts";
import type { QueryHandler } from "../query_handler.ts";
import { getLogger } from "../log.ts";

const log = getLogger("udp");

/** Serves DNS queries arriving on one UDP socket. */
export class UdpFrontend {
  readonly #listener: Deno.DatagramConn;
  readonly #handler: QueryHandler;
  readonly #inFlight = new Set<Promise<void>>();
  #draining = false;
  #closed = false;
  /** Settles when the socket is closed and the receive loop has ended. */
  readonly done: Promise<void>;

  /**
   * Starts serving.
   *
   * @param listener A bound UDP socket.
   * @param handler Answers each query.
   */
  constructor(listener: Deno.DatagramConn, handler: QueryHandler) {
    this.#listener = listener;
    this.#handler = handler;
    this.done = this.#receiveLoop();
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
    await settleWithin([...this.#inFlight], graceMs);
    this.close();
    await this.done;
  }

  /** Closes the socket at once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
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
        log.warn("Cannot receive on {address}: {error}", {
          address: `${this.addr.hostname}:${this.addr.port}`,
          error: (error as Error).message,
        });
        continue;
      }
      if (this.#draining) continue;
      this.#track(this.#answer(datagram.slice(), client));
    }
  }

  async #answer(query: Uint8Array, client: Deno.NetAddr): Promise<void> {
    const answer = await this.#handler.handle(query, { transport: "udp", client });
    if (answer === null || this.#closed) return;
    try {
      await this.#listener.send(answer, client);
    } catch (error) {
      log.debug("Cannot send the answer to {client}: {error}", {
        client: `${client.hostname}:${client.port}`,
        error: (error as Error).message,
      });
    }
  }

  #track(task: Promise<void>): void {
    const tracked = task.catch((error) => {
      log.error("Query handling failed: {error}", { error });
    }).finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
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
