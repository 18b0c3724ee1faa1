/**
 * Tiny loopback DNS clients for tests: one UDP exchange, and framed DNS over TCP (or any conn).
 * Messages are built and decoded with `dns-packet` (see dns_packet.ts, re-exported here).
 *
 * @module
 */

export * from "./dns_packet.ts";

/**
 * Sends `message` over UDP to `hostname:port` (default 127.0.0.1) from an ephemeral port and
 * resolves with the first datagram that comes back from that address; rejects after `timeoutMs`
 * (default 2000).
 */
export async function udpQuery(
  port: number,
  message: Uint8Array,
  options: { hostname?: string; timeoutMs?: number } = {},
): Promise<Uint8Array> {
  const hostname = options.hostname ?? "127.0.0.1";
  const timeoutMs = options.timeoutMs ?? 2000;
  const socket = Deno.listenDatagram({ hostname, port: 0, transport: "udp" });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no UDP reply from port ${port} in ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  // Handled here too: on a busy host the timer can fire while the send is still pending.
  timeout.catch(() => {});
  try {
    await socket.send(message, { hostname, port, transport: "udp" });
    for (;;) {
      const receiving = socket.receive();
      try {
        const [data, from] = await Promise.race([receiving, timeout]);
        if ((from as Deno.NetAddr).port === port) return data;
      } catch (error) {
        // Closing the socket is what ends the pending receive op; wait for it so no op leaks.
        socket.close();
        await receiving.catch(() => {});
        throw error;
      }
    }
  } finally {
    clearTimeout(timer);
    try {
      socket.close();
    } catch {
      // already closed on the timeout path
    }
  }
}

/**
 * A DNS-over-TCP client speaking RFC 1035 §4.2.2 framing (2-byte length prefix). Wraps any
 * `Deno.Conn`, so a test can also hand it a `Deno.TlsConn` to talk DoT.
 */
export class TcpDnsClient implements AsyncDisposable {
  readonly conn: Deno.Conn;
  #buffered: Uint8Array = new Uint8Array(0);
  #closed = false;

  constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  /** Connects over plain TCP to `hostname:port` (default 127.0.0.1). */
  static async connect(port: number, hostname = "127.0.0.1"): Promise<TcpDnsClient> {
    return new TcpDnsClient(await Deno.connect({ hostname, port }));
  }

  /** Writes the 2-byte length prefix and `message` in one write. */
  send(message: Uint8Array): Promise<void> {
    const frame = new Uint8Array(2 + message.length);
    frame[0] = message.length >> 8;
    frame[1] = message.length & 0xff;
    frame.set(message, 2);
    return this.sendRaw(frame);
  }

  /** Writes `bytes` as they are (for split, bogus or pipelined framing). */
  async sendRaw(bytes: Uint8Array): Promise<void> {
    let written = 0;
    while (written < bytes.length) written += await this.conn.write(bytes.subarray(written));
  }

  /**
   * Resolves with the next framed message (without prefix). Rejects on EOF, or after `timeoutMs`
   * (default 2000): a timeout closes the connection, because its pending read cannot be abandoned.
   */
  async receive(timeoutMs = 2000): Promise<Uint8Array> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    try {
      for (;;) {
        const message = this.#takeFrame();
        if (message !== undefined) return message;
        const chunk = new Uint8Array(16_384);
        const reading = this.conn.read(chunk);
        const result = await Promise.race([reading, timeout]);
        if (result === "timeout") {
          this.close();
          await reading.catch(() => {});
          throw new Error(`no DNS message within ${timeoutMs} ms`);
        }
        if (result === null) {
          throw new Error(
            `EOF: connection closed by peer (${this.#buffered.length} bytes pending)`,
          );
        }
        this.#buffered = concat(this.#buffered, chunk.subarray(0, result));
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the connection; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  #takeFrame(): Uint8Array | undefined {
    if (this.#buffered.length < 2) return undefined;
    const length = (this.#buffered[0]! << 8) | this.#buffered[1]!;
    if (this.#buffered.length < 2 + length) return undefined;
    const message = this.#buffered.slice(2, 2 + length);
    this.#buffered = this.#buffered.subarray(2 + length);
    return message;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
