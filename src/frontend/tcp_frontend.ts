/**
 * Plain DNS over TCP (RFC 7766): accepts client connections within the
 * connection caps and hands each to a {@linkcode ClientConnection}, which
 * answers several queries at once and cuts off idle and stalled clients.
 *
 * @module
 */

import type { Admission } from "../access/admission.ts";
import { parseIp } from "../access/ip_address.ts";
import type { QueryHandler } from "../query_handler.ts";
import { getLogger } from "../log.ts";
import { ClientConnection } from "./tcp_client_connection.ts";
import type { TcpConnectionTable } from "./tcp_connection_table.ts";
import { settleWithin } from "./udp_frontend.ts";

const log = getLogger("tcp");

/** Settings of the TCP frontend. */
export interface TcpFrontendOptions {
  /** Access list, rate limit and in-flight cap, shared with the other frontends. */
  readonly admission: Admission;
  /** Connection caps, shared with the other TCP frontends. */
  readonly connections: TcpConnectionTable;
  /**
   * Close a connection with nothing in flight after this long without a
   * whole query, and one whose client does not read an answer for this long.
   * @default {10000}
   */
  readonly idleTimeoutMs?: number;
  /** Queries handled at once per connection; reading pauses beyond. @default {100} */
  readonly maxInFlightPerConnection?: number;
  /** UDP size advertised in the OPT record of REFUSED answers. @default {1232} */
  readonly maxUdpSize?: number;
}

/** Serves DNS queries arriving on one TCP listener. */
export class TcpFrontend {
  readonly #listener: Deno.TcpListener;
  readonly #handler: QueryHandler;
  readonly #options: TcpFrontendOptions;
  readonly #connections = new Set<ClientConnection>();
  #closed = false;
  /** Settles when the listener is closed and the accept loop has ended. */
  readonly done: Promise<void>;

  /**
   * Starts serving.
   *
   * @param listener A bound TCP listener.
   * @param handler Answers each query.
   * @param options Admission, caps and timeouts.
   */
  constructor(listener: Deno.TcpListener, handler: QueryHandler, options: TcpFrontendOptions) {
    this.#listener = listener;
    this.#handler = handler;
    this.#options = options;
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
    await this.done;
    const connections = [...this.#connections];
    for (const connection of connections) connection.drain();
    await settleWithin(connections.map((connection) => connection.done), graceMs);
    for (const connection of connections) connection.close();
    await Promise.all(connections.map((connection) => connection.done));
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
      this.#admit(conn);
    }
  }

  /** Starts serving a new connection, or closes it at once when a cap is reached. */
  #admit(conn: Deno.TcpConn): void {
    conn.setNoDelay(true); // answers leave at once, not after the client's delayed ACK
    const { admission, connections } = this.#options;
    const address = parseIp(conn.remoteAddr.hostname);
    // A client outside the access list still gets its connection (to learn it
    // is REFUSED); it counts against the caps like any other.
    const denied = !admission.allows(address);
    const connection = new ClientConnection(conn, {
      handler: this.#handler,
      admission,
      address,
      denied,
      idleTimeoutMs: this.#options.idleTimeoutMs ?? 10000,
      maxInFlight: this.#options.maxInFlightPerConnection ?? 100,
      maxUdpSize: this.#options.maxUdpSize ?? 1232,
    });
    const key = address === null ? conn.remoteAddr.hostname : admission.keyOf(address);
    const refusal = connections.add(key, connection);
    if (refusal !== null) {
      admission.count("tcpRejected");
      log.debug("Closing TCP connection from {client}: {cap} connection cap reached", {
        client: conn.remoteAddr.hostname,
        cap: refusal,
      });
      conn.close();
      return;
    }
    this.#connections.add(connection);
    connection.start();
    connection.done.finally(() => {
      this.#connections.delete(connection);
      connections.remove(connection);
    });
  }
}
