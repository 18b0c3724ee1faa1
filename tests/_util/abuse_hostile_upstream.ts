/**
 * A DNS-over-TLS upstream that misbehaves on purpose, one way at a time:
 * replies with the wrong ID or question, garbage, a 65535-octet length
 * prefix and then a close, a close in the middle of a message, or silence.
 * It writes raw bytes (unlike fake_dot_server.ts, which always frames whole
 * messages), so that broken framing can be tested too. Its lies carry the
 * address 203.0.113.66, so a test can tell a lie that got through.
 *
 * @module
 */

import { decode, type DecodedPacket } from "./dns_packet.ts";
import { answer, type ReceivedQuery } from "./fake_dot_answers.ts";
import { testdataPath } from "./tools.ts";

/** The address in every lie; an honest answer has 192.0.2.1. */
export const LIE = "203.0.113.66";

/** How the server treats each query. */
export type Behaviour =
  | "honest" // the right answer
  | "wrong-id" // the lie, under an ID nobody asked
  | "wrong-question" // the lie, for another name, under the right ID
  | "not-a-response" // the lie with QR=0, right ID and question
  | "garbage" // random octets, framed
  | "garbage-with-id" // the right ID, then random octets, framed
  | "short" // a 5-octet message, framed
  | "huge-prefix-close" // a length prefix of 65535, then the connection is closed
  | "close-mid-message" // half of the right answer, then the connection is closed
  | "stall"; // never answers, never closes

/** A running hostile upstream. */
export class HostileUpstream implements AsyncDisposable {
  /** What the server does now; tests change it on the fly. */
  behaviour: Behaviour;
  /** Queries received. */
  queries = 0;
  readonly #listener: Deno.TlsListener;
  readonly #conns = new Set<Deno.TlsConn>();
  readonly #loops = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;
  #seed = 12345;

  private constructor(listener: Deno.TlsListener, behaviour: Behaviour) {
    this.#listener = listener;
    this.behaviour = behaviour;
    this.#accepting = this.#accept();
  }

  /** Starts a server on an ephemeral loopback port (or `port`) with the test certificate. */
  static async start(behaviour: Behaviour, port = 0): Promise<HostileUpstream> {
    const [cert, key] = await Promise.all([
      Deno.readTextFile(testdataPath("tls", "server.pem")),
      Deno.readTextFile(testdataPath("tls", "server.key")),
    ]);
    const listener = Deno.listenTls({ hostname: "127.0.0.1", port, cert, key });
    return new HostileUpstream(listener, behaviour);
  }

  /** The port it listens on. */
  get port(): number {
    return this.#listener.addr.port;
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    await this.#accepting;
    for (const conn of this.#conns) closeQuietly(conn);
    while (this.#loops.size > 0) await Promise.all(this.#loops);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #accept(): Promise<void> {
    for (;;) {
      let conn: Deno.TlsConn;
      try {
        conn = await this.#listener.accept();
      } catch {
        return; // the listener was closed
      }
      this.#conns.add(conn);
      const loop = this.#serve(conn).finally(() => {
        this.#conns.delete(conn);
        this.#loops.delete(loop);
      });
      this.#loops.add(loop);
    }
  }

  async #serve(conn: Deno.TlsConn): Promise<void> {
    let buffered: Uint8Array = new Uint8Array(0);
    const chunk = new Uint8Array(16384);
    try {
      for (;;) {
        const n = await conn.read(chunk);
        if (n === null) return;
        buffered = concat(buffered, chunk.subarray(0, n));
        while (buffered.length >= 2) {
          const length = (buffered[0]! << 8) | buffered[1]!;
          if (buffered.length < length + 2) break;
          const raw = buffered.slice(2, length + 2);
          buffered = buffered.subarray(length + 2);
          this.queries++;
          if (!await this.#respond(conn, raw)) return;
        }
      }
    } catch {
      return; // closed under us
    } finally {
      closeQuietly(conn);
    }
  }

  /** Acts on one query; false when the connection must end. */
  async #respond(conn: Deno.TlsConn, raw: Uint8Array): Promise<boolean> {
    const query = received(raw);
    const lie = { answers: [{ type: "A" as const, name: query.name, ttl: 300, data: LIE }] };
    switch (this.behaviour) {
      case "honest":
        return await write(
          conn,
          frame(answer(query, {
            answers: [{ type: "A", name: query.name, ttl: 300, data: "192.0.2.1" }],
          })),
        );
      case "wrong-id":
        return await write(conn, frame(answer(query, { ...lie, id: query.id ^ 0x8000 })));
      case "wrong-question":
        return await write(conn, frame(answer(query, { ...lie, name: "evil.test" })));
      case "not-a-response": {
        const message = answer(query, lie);
        message[2] = message[2]! & 0x7f;
        return await write(conn, frame(message));
      }
      case "garbage":
        return await write(conn, frame(this.#random(12 + (this.#next() % 300))));
      case "garbage-with-id": {
        const message = this.#random(12 + (this.#next() % 300));
        message.set(raw.subarray(0, 2));
        return await write(conn, frame(message));
      }
      case "short":
        return await write(conn, frame(raw.subarray(0, 5)));
      case "huge-prefix-close":
        await write(conn, new Uint8Array([0xff, 0xff, 1, 2, 3]));
        return false;
      case "close-mid-message": {
        const whole = frame(answer(query, lie));
        await write(conn, whole.subarray(0, whole.length >> 1));
        return false;
      }
      case "stall":
        return true;
    }
  }

  #next(): number {
    this.#seed = (Math.imul(this.#seed, 1103515245) + 12345) >>> 0;
    return this.#seed >>> 8;
  }

  #random(length: number): Uint8Array {
    return Uint8Array.from({ length }, () => this.#next() & 0xff);
  }
}

function received(raw: Uint8Array): ReceivedQuery {
  const packet: DecodedPacket = decode(raw);
  const question = packet.questions[0];
  return {
    id: packet.id,
    name: question?.name ?? "",
    type: question?.type ?? "",
    raw,
    connection: 0,
    packet,
    signal: new AbortController().signal,
  };
}

function frame(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(message.length + 2);
  out[0] = message.length >> 8;
  out[1] = message.length & 0xff;
  out.set(message, 2);
  return out;
}

async function write(conn: Deno.TlsConn, bytes: Uint8Array): Promise<boolean> {
  try {
    for (let written = 0; written < bytes.length;) {
      written += await conn.write(bytes.subarray(written));
    }
    return true;
  } catch {
    return false; // the proxy hung up
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}
