/**
 * The client TCP connections of every TCP frontend, with a cap on their
 * total and on those of one client: the first two defences RFC 7766 §10
 * advises a server to apply against denial of service over TCP.
 *
 * At the total cap, a new connection takes the place of the oldest idle one
 * (no query in flight) rather than being turned away: clients must be ready
 * for a server to close an idle connection (RFC 7766 §6.2.3), while turning
 * new clients away would let a few hundred connections that send nothing
 * (or a byte at a time) lock every other client out until they time out.
 *
 * @module
 */

import type { ClientKey } from "../access/ip_address.ts";

/** A connection the table can close to make room. */
export interface TableEntry {
  /** True when no query is in flight on it. */
  readonly idle: boolean;
  /** Closes it (it then calls {@linkcode TcpConnectionTable.remove}). */
  close(): void;
}

/** Settings of {@linkcode TcpConnectionTable}. */
export interface TcpConnectionTableOptions {
  /** Client connections open at most, over all TCP frontends (`--max-tcp-connections`). */
  readonly maxConnections: number;
  /** Client connections open at most per client (`--max-tcp-per-client`). */
  readonly maxPerClient: number;
  /** Called each time an idle connection is closed to make room (for counters). */
  readonly onEvict?: () => void;
}

/** Why a connection was not admitted. */
export type TableRefusal = "per-client" | "total";

/**
 * Open client connections, oldest first.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { TcpConnectionTable } from "./tcp_connection_table.ts";
 *
 * const table = new TcpConnectionTable({ maxConnections: 1, maxPerClient: 1 });
 * const idle = { idle: true, close: () => table.remove(idle) };
 * assert.equal(table.add(1, idle), null);
 * assert.equal(table.add(1, { idle: true, close() {} }), "per-client");
 * assert.equal(table.add(2, { idle: true, close() {} }), null); // closed `idle` to make room
 * assert.equal(table.size, 1);
 * ```
 */
export class TcpConnectionTable {
  readonly #maxConnections: number;
  readonly #maxPerClient: number;
  /** Every open connection and its client, in the order they were added. */
  readonly #entries = new Map<TableEntry, ClientKey>();
  /** Open connections per client; a client with none has no entry. */
  readonly #perClient = new Map<ClientKey, number>();
  readonly #onEvict: () => void;

  /**
   * Creates an empty table.
   *
   * @param options The caps.
   * @throws {RangeError} When a cap is below 1.
   */
  constructor(options: TcpConnectionTableOptions) {
    if (!(options.maxConnections >= 1) || !(options.maxPerClient >= 1)) {
      throw new RangeError("Cannot limit TCP connections: the caps must be >= 1");
    }
    this.#maxConnections = options.maxConnections;
    this.#maxPerClient = options.maxPerClient;
    this.#onEvict = options.onEvict ?? (() => {});
  }

  /** Connections open now. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Admits a new connection, closing the oldest idle one if the table is full.
   *
   * @param key The client.
   * @param entry The new connection.
   * @returns null when admitted, else which cap turned it away.
   */
  add(key: ClientKey, entry: TableEntry): TableRefusal | null {
    const count = this.#perClient.get(key) ?? 0;
    if (count >= this.#maxPerClient) return "per-client";
    if (this.#entries.size >= this.#maxConnections && !this.#evictIdle()) return "total";
    this.#entries.set(entry, key);
    this.#perClient.set(key, count + 1);
    return null;
  }

  /**
   * Forgets a connection; calling it again for the same one does nothing.
   *
   * @param entry The connection, closed or closing.
   */
  remove(entry: TableEntry): void {
    const key = this.#entries.get(entry);
    if (key === undefined) return;
    this.#entries.delete(entry);
    const count = (this.#perClient.get(key) ?? 1) - 1;
    if (count > 0) this.#perClient.set(key, count);
    else this.#perClient.delete(key);
  }

  /** Closes the oldest idle connection; false when every one has a query in flight. */
  #evictIdle(): boolean {
    for (const entry of this.#entries.keys()) {
      if (!entry.idle) continue;
      this.remove(entry); // at once: its own removal comes only when its loop ends
      entry.close();
      this.#onEvict();
      return true;
    }
    return false;
  }
}
