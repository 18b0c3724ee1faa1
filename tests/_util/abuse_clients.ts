/**
 * Clients for the abuse tests that choose their source address on loopback
 * (any 127.0.0.x is local on Linux), so that access lists and per-client
 * limits can be tested with several "clients" on one machine: a UDP socket
 * bound to the address, and a TCP connection through `node:net`, whose
 * `localAddress` Deno's own `Deno.connect` does not offer.
 *
 * @module
 */

import net from "node:net";
import { Buffer } from "node:buffer";

/** A UDP socket bound to a chosen source address, receiving with timeouts. */
export class BoundUdpClient implements AsyncDisposable {
  readonly #socket: Deno.DatagramConn;
  /** The receive in progress; kept across timeouts, since a receive cannot be cancelled. */
  #next: Promise<[Uint8Array, Deno.Addr]> | null = null;
  #closed = false;

  /**
   * Binds a socket.
   *
   * @param hostname Source address, e.g. `127.0.0.2`.
   */
  constructor(hostname = "127.0.0.1") {
    this.#socket = Deno.listenDatagram({ hostname, port: 0, transport: "udp" });
  }

  /** Sends one datagram to `127.0.0.1:port` (or `hostname:port`). */
  async send(port: number, message: Uint8Array, hostname = "127.0.0.1"): Promise<void> {
    await this.#socket.send(message, { hostname, port, transport: "udp" });
  }

  /** The next datagram, or null when none comes within `timeoutMs`. */
  async receive(timeoutMs: number): Promise<Uint8Array | null> {
    this.#next ??= this.#socket.receive();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<null>((resolve) =>
      timer = setTimeout(() => resolve(null), timeoutMs)
    );
    try {
      const result = await Promise.race([this.#next, timeout]);
      if (result === null) return null;
      this.#next = null;
      return result[0];
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Sends a query and waits for the datagram with the same ID.
   *
   * @throws {Error} When no answer comes within `timeoutMs`.
   */
  async query(port: number, message: Uint8Array, timeoutMs = 3000): Promise<Uint8Array> {
    await this.send(port, message);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      const answer = left > 0 ? await this.receive(left) : null;
      if (answer === null) throw new Error(`no UDP answer within ${timeoutMs} ms`);
      if (answer[0] === message[0] && answer[1] === message[1]) return answer;
    }
  }

  /** Closes the socket and waits for the pending receive to end. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.close();
    await this.#next?.catch(() => {}); // ends with BadResource once the socket is closed
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** A framed DNS-over-TCP client on a `node:net` socket with a chosen source address. */
export class NodeTcpDnsClient implements AsyncDisposable {
  readonly #socket: net.Socket;
  #buffered = new Uint8Array(0);
  #waiter: (() => void) | null = null;
  #ended = false;
  /** Settles when the socket has closed (by either side). */
  readonly closed: Promise<void>;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on("data", (chunk: Buffer) => {
      const joined = new Uint8Array(this.#buffered.length + chunk.length);
      joined.set(this.#buffered);
      joined.set(chunk, this.#buffered.length);
      this.#buffered = joined;
      this.#wake();
    });
    socket.on("error", () => {}); // a reset by the proxy shows up as "close" as well
    this.closed = new Promise((resolve) => {
      socket.once("close", () => {
        this.#ended = true;
        this.#wake();
        resolve();
      });
    });
  }

  /**
   * Connects to `127.0.0.1:port` from `localAddress`.
   *
   * @throws {Error} When the connection fails.
   */
  static connect(port: number, localAddress: string): Promise<NodeTcpDnsClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: "127.0.0.1", port, localAddress });
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(new NodeTcpDnsClient(socket));
      });
    });
  }

  /** True once the socket has closed. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Writes `bytes` as they are. */
  sendRaw(bytes: Uint8Array): void {
    this.#socket.write(Buffer.from(bytes));
  }

  /** Writes one message with its length prefix. */
  send(message: Uint8Array): void {
    const frame = new Uint8Array(message.length + 2);
    frame[0] = message.length >> 8;
    frame[1] = message.length & 0xff;
    frame.set(message, 2);
    this.sendRaw(frame);
  }

  /**
   * The next framed message.
   *
   * @throws {Error} On EOF or when none comes within `timeoutMs`.
   */
  async receive(timeoutMs = 3000): Promise<Uint8Array> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.#buffered.length >= 2) {
        const length = (this.#buffered[0]! << 8) | this.#buffered[1]!;
        if (this.#buffered.length >= length + 2) {
          const message = this.#buffered.slice(2, length + 2);
          this.#buffered = this.#buffered.subarray(length + 2);
          return message;
        }
      }
      if (this.#ended) throw new Error("EOF: connection closed by the proxy");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no TCP answer within ${timeoutMs} ms`);
      await this.#wait(left);
    }
  }

  /** Closes the socket and waits until it is closed. */
  async close(): Promise<void> {
    this.#socket.destroy();
    await this.closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiter = null;
        resolve();
      }, ms);
      this.#waiter = () => {
        clearTimeout(timer);
        this.#waiter = null;
        resolve();
      };
    });
  }

  #wake(): void {
    this.#waiter?.();
  }
}

/**
 * Polls `condition` until it holds or `timeoutMs` passes.
 *
 * @returns Whether the condition held before the deadline.
 */
export async function waitFor(
  condition: () => boolean,
  timeoutMs = 5000,
  intervalMs = 20,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return true;
}
