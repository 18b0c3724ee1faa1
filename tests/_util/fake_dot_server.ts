/**
 * An in-process DNS-over-TLS upstream for integration tests, with scriptable replies.
 *
 * It decodes and encodes with the `dns-packet` npm package rather than the project's own wire
 * code on purpose: a bug in our codec must not be able to hide itself by agreeing with itself.
 *
 * @module
 */

import { decode, type DecodedPacket } from "./dns_packet.ts";
import { defaultAnswer, type ReceivedQuery, type Reply } from "./fake_dot_answers.ts";
import { testdataPath } from "./tools.ts";

export { answer, defaultAnswer } from "./fake_dot_answers.ts";
export type { ReceivedQuery, Reply } from "./fake_dot_answers.ts";

/** Options for {@linkcode startFakeDotServer}. */
export interface FakeDotServerOptions {
  /** Default `"127.0.0.1"`. */
  hostname?: string;
  /** Default 0 (ephemeral); a fixed port lets a test restart a server on the same port. */
  port?: number;
  /** PEM chain; default tests/testdata/tls/server.pem. */
  certFile?: string;
  /** PEM key; default tests/testdata/tls/server.key. */
  keyFile?: string;
  /**
   * Computes the reply to one query; may be async. Replies are written as they resolve, so
   * different delays give out-of-order replies on one connection. A handler that throws gets its
   * connection closed. Default: {@linkcode defaultAnswer}.
   */
  handler?: (query: ReceivedQuery) => Reply | Promise<Reply>;
  /**
   * Close a connection idle this long (no query read, no reply owed), as public resolvers do:
   * `"timer"` closes it when the time passes; `"on-query"` only when the next query arrives,
   * unanswered (a close that crosses a query on its way). Default: never.
   */
  idleClose?: { readonly afterMs: number; readonly mode: "timer" | "on-query" };
}

/** A running fake DoT server; dispose (or `close()`) to stop it. */
export interface FakeDotServer extends AsyncDisposable {
  readonly port: number;
  readonly hostname: string;
  /** Every query received, in order. */
  readonly queries: ReceivedQuery[];
  /** TLS connections accepted (handshake completed). */
  readonly connectionsAccepted: number;
  /** Accepted connections not yet closed by either side. */
  readonly openConnections: number;
  /** TLS handshakes that failed (e.g. a client rejected our certificate). */
  readonly handshakeFailures: number;
  /** Connections closed by the server for being idle (see `idleClose`). */
  readonly idleCloses: number;
  /** Stops listening, closes all open connections and waits for their loops to end. */
  close(): Promise<void>;
}

/** Starts a fake DoT server; resolves once it is listening. */
export async function startFakeDotServer(
  options: FakeDotServerOptions = {},
): Promise<FakeDotServer> {
  const [cert, key] = await Promise.all([
    Deno.readTextFile(options.certFile ?? testdataPath("tls", "server.pem")),
    Deno.readTextFile(options.keyFile ?? testdataPath("tls", "server.key")),
  ]);
  const hostname = options.hostname ?? "127.0.0.1";
  const listener = Deno.listenTls({ hostname, port: options.port ?? 0, cert, key });
  return new FakeDotServerImpl(
    listener,
    hostname,
    options.handler ?? defaultAnswer,
    options.idleClose,
  );
}

class FakeDotServerImpl implements FakeDotServer {
  readonly hostname: string;
  readonly port: number;
  readonly queries: ReceivedQuery[] = [];
  #listener: Deno.TlsListener;
  #handler: (query: ReceivedQuery) => Reply | Promise<Reply>;
  #sockets = new Set<Socket>();
  #loops = new Set<Promise<void>>();
  #acceptLoop: Promise<void>;
  #accepted = 0;
  #open = 0;
  #handshakeFailures = 0;
  #idleCloses = 0;
  readonly #idleClose: FakeDotServerOptions["idleClose"];
  #closing: Promise<void> | undefined;

  constructor(
    listener: Deno.TlsListener,
    hostname: string,
    handler: (query: ReceivedQuery) => Reply | Promise<Reply>,
    idleClose: FakeDotServerOptions["idleClose"],
  ) {
    this.#listener = listener;
    this.#idleClose = idleClose;
    this.hostname = hostname;
    this.port = listener.addr.port;
    this.#handler = handler;
    this.#acceptLoop = this.#acceptAll();
  }

  get connectionsAccepted(): number {
    return this.#accepted;
  }
  get openConnections(): number {
    return this.#open;
  }
  get handshakeFailures(): number {
    return this.#handshakeFailures;
  }
  get idleCloses(): number {
    return this.#idleCloses;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#listener.close();
      await this.#acceptLoop;
      for (const socket of this.#sockets) socket.close();
      // Loops remove themselves when done, so keep waiting until the set is empty.
      while (this.#loops.size > 0) await Promise.all(this.#loops);
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #acceptAll(): Promise<void> {
    for (;;) {
      let conn: Deno.TlsConn;
      try {
        conn = await this.#listener.accept();
      } catch {
        return; // the listener was closed
      }
      const loop = this.#serve(new Socket(conn)).finally(() => this.#loops.delete(loop));
      this.#loops.add(loop);
    }
  }

  async #serve(socket: Socket): Promise<void> {
    this.#sockets.add(socket);
    try {
      try {
        await socket.conn.handshake();
      } catch {
        // A client that rejects our certificate (or hangs up early) is a normal test scenario.
        this.#handshakeFailures++;
        return;
      }
      if (this.#closing !== undefined) return;
      const index = ++this.#accepted;
      this.#open++;
      this.#becameIdle(socket);
      try {
        await this.#readQueries(socket, index);
      } finally {
        this.#open--;
      }
    } finally {
      socket.close();
      this.#sockets.delete(socket);
    }
  }

  async #readQueries(socket: Socket, index: number): Promise<void> {
    const reader = socket.conn.readable.getReader();
    let buffered: Uint8Array = new Uint8Array(0);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || socket.closed) return;
        buffered = concat(buffered, value);
        // RFC 1035 §4.2.2: each message is preceded by a 2-byte big-endian length; a TLS record
        // may hold several messages or a fraction of one.
        while (buffered.length >= 2) {
          const length = (buffered[0]! << 8) | buffered[1]!;
          if (buffered.length < 2 + length) break;
          const raw = buffered.slice(2, 2 + length);
          buffered = buffered.subarray(2 + length);
          const query = decodeQuery(raw, index, socket.signal);
          if (query === undefined) return; // undecodable: behave like a server that gives up
          if (this.#closesOnQuery(socket)) return;
          clearTimeout(socket.idleTimer);
          socket.owed++;
          this.queries.push(query);
          this.#respond(socket, query);
        }
      }
    } catch {
      return; // the connection was closed under us (close() or a "close" reply)
    } finally {
      reader.releaseLock();
    }
  }

  #respond(socket: Socket, query: ReceivedQuery): void {
    const loop = (async () => {
      let reply: Reply;
      try {
        // Raced against the connection's end so that close() never waits on a handler that
        // never settles (e.g. one gated on a promise the test forgot to resolve).
        reply = await untilAborted(Promise.resolve(query).then(this.#handler), socket.signal);
      } catch {
        reply = "close";
      }
      if (reply === "close") socket.close();
      else if (reply !== "ignore") await socket.send(reply);
      if (--socket.owed === 0) this.#becameIdle(socket);
    })().finally(() => this.#loops.delete(loop));
    this.#loops.add(loop);
  }

  /** A connection owes no reply: the idle time starts (and, for "timer", its close). */
  #becameIdle(socket: Socket): void {
    socket.idleSince = performance.now();
    if (this.#idleClose?.mode !== "timer" || socket.closed) return;
    clearTimeout(socket.idleTimer);
    socket.idleTimer = setTimeout(() => {
      this.#idleCloses++;
      socket.close();
    }, this.#idleClose.afterMs);
  }

  /** For "on-query": a query after the idle time finds the connection closing. */
  #closesOnQuery(socket: Socket): boolean {
    const idleClose = this.#idleClose;
    if (idleClose?.mode !== "on-query" || socket.owed > 0) return false;
    if (performance.now() - socket.idleSince < idleClose.afterMs) return false;
    this.#idleCloses++;
    socket.close();
    return true;
  }
}

/** One TLS connection: serialized framed writes, idempotent close, abort signal for handlers. */
class Socket {
  readonly conn: Deno.TlsConn;
  /** Replies owed (queries read, not yet answered or ignored). */
  owed = 0;
  /** When it last owed nothing. */
  idleSince = 0;
  idleTimer: ReturnType<typeof setTimeout> | undefined;
  #abort = new AbortController();
  #writes: Promise<void> = Promise.resolve();

  constructor(conn: Deno.TlsConn) {
    this.conn = conn;
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }
  get closed(): boolean {
    return this.#abort.signal.aborted;
  }

  send(message: Uint8Array): Promise<void> {
    const frame = new Uint8Array(2 + message.length);
    frame[0] = message.length >> 8;
    frame[1] = message.length & 0xff;
    frame.set(message, 2);
    // Chained so that concurrent replies never interleave their bytes.
    this.#writes = this.#writes.then(async () => {
      if (this.closed) return;
      try {
        let written = 0;
        while (written < frame.length) written += await this.conn.write(frame.subarray(written));
      } catch {
        this.close(); // the peer went away; nothing else to do for a fake
      }
    });
    return this.#writes;
  }

  close(): void {
    clearTimeout(this.idleTimer);
    if (this.closed) return;
    this.#abort.abort();
    try {
      this.conn.close();
    } catch {
      // already closed by the stream machinery
    }
  }
}

/** `promise`'s value, or `"ignore"` as soon as `signal` aborts. */
function untilAborted(promise: Promise<Reply>, signal: AbortSignal): Promise<Reply> {
  if (signal.aborted) return Promise.resolve("ignore");
  let onAbort = () => {};
  const aborted = new Promise<Reply>((resolve) => {
    onAbort = () => resolve("ignore");
    signal.addEventListener("abort", onAbort, { once: true });
  });
  return Promise.race([promise, aborted]).finally(() => {
    signal.removeEventListener("abort", onAbort);
  });
}

function decodeQuery(
  raw: Uint8Array,
  connection: number,
  signal: AbortSignal,
): ReceivedQuery | undefined {
  let packet: DecodedPacket;
  try {
    packet = decode(raw);
  } catch {
    return undefined;
  }
  const question = packet.questions?.[0];
  return {
    id: packet.id ?? 0,
    name: question?.name ?? "",
    type: question?.type ?? "",
    raw,
    connection,
    packet,
    signal,
  };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
