/**
 * An in-process plaintext DNS server (UDP and TCP on one loopback port) for
 * split-DNS tests: the stand-in for kube-dns or a corporate resolver behind
 * `udp://IP:PORT`. Replies come from the same scriptable handlers as the
 * fake DoT server's; `udpHandler` may differ (e.g. to answer TC=1 over UDP).
 *
 * @module
 */

import { decode } from "./dns_packet.ts";
import { defaultAnswer, type ReceivedQuery, type Reply } from "./fake_dot_answers.ts";

/** Options of {@linkcode startFakePlainServer}. */
export interface FakePlainServerOptions {
  /** Reply to a query over TCP (and over UDP unless `udpHandler` is given). */
  handler?: (query: ReceivedQuery) => Reply | Promise<Reply>;
  /**
   * Reply to a query over UDP. `peer` is where it came from, with a way to
   * send other datagrams there from the server's own address and port (e.g.
   * forged replies ahead of the real one).
   */
  udpHandler?: (query: ReceivedQuery, peer: UdpPeer) => Reply | Promise<Reply>;
}

/** The sender of a UDP query, as a handler sees it. */
export interface UdpPeer {
  readonly address: Deno.NetAddr;
  /** Sends a datagram to the peer from the server's address and port. */
  send(datagram: Uint8Array): Promise<void>;
}

/** A running plaintext server. */
export interface FakePlainServer extends AsyncDisposable {
  readonly port: number;
  /** Every query received, UDP and TCP. */
  readonly queries: (ReceivedQuery & { transport: "udp" | "tcp" })[];
  close(): Promise<void>;
}

/** Starts the server on 127.0.0.1, UDP and TCP on the same free port. */
export function startFakePlainServer(options: FakePlainServerOptions = {}): FakePlainServer {
  const tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const udp = Deno.listenDatagram({ hostname: "127.0.0.1", port: tcp.addr.port, transport: "udp" });
  const stop = new AbortController();
  const queries: FakePlainServer["queries"] = [];
  const handler = options.handler ?? defaultAnswer;
  const udpHandler = options.udpHandler ?? handler;
  const received = (raw: Uint8Array, transport: "udp" | "tcp") => {
    const packet = decode(raw);
    const question = packet.questions[0];
    const query = {
      id: packet.id,
      name: question?.name ?? "",
      type: question?.type ?? "",
      raw,
      connection: 0,
      packet,
      signal: stop.signal,
    };
    queries.push({ ...query, transport });
    return query;
  };
  const udpLoop = (async () => {
    for (;;) {
      let data: Uint8Array, from: Deno.Addr;
      try {
        [data, from] = await udp.receive();
      } catch {
        return; // closed
      }
      const peer: UdpPeer = {
        address: from as Deno.NetAddr,
        send: async (datagram) => void await udp.send(datagram, from),
      };
      const reply = await udpHandler(received(data.slice(), "udp"), peer);
      if (reply instanceof Uint8Array) await udp.send(reply, from).catch(() => {});
    }
  })();
  const tcpConnections = new Set<Promise<void>>();
  const tcpLoop = (async () => {
    for await (const conn of tcp) {
      const served = serveTcp(conn, (raw) => handler(received(raw, "tcp")));
      tcpConnections.add(served);
      served.finally(() => tcpConnections.delete(served));
    }
  })();
  let closing: Promise<void> | null = null;
  const close = () =>
    closing ??= (async () => {
      stop.abort();
      udp.close();
      tcp.close();
      await Promise.all([udpLoop, tcpLoop, ...tcpConnections]);
    })();
  return { port: tcp.addr.port, queries, close, [Symbol.asyncDispose]: close };
}

/** One query per TCP connection is all a stub needs: read it, answer, close. */
async function serveTcp(
  conn: Deno.TcpConn,
  handler: (raw: Uint8Array) => Reply | Promise<Reply>,
): Promise<void> {
  try {
    let buffered = new Uint8Array(0);
    const chunk = new Uint8Array(4096);
    for (;;) {
      const n = await conn.read(chunk);
      if (n === null) return;
      buffered = new Uint8Array([...buffered, ...chunk.subarray(0, n)]);
      if (buffered.length < 2) continue;
      const length = (buffered[0]! << 8) | buffered[1]!;
      if (buffered.length < 2 + length) continue;
      const reply = await handler(buffered.slice(2, 2 + length));
      if (!(reply instanceof Uint8Array)) return;
      await conn.write(new Uint8Array([reply.length >> 8, reply.length & 0xff, ...reply]));
      return;
    }
  } catch {
    // The client went away.
  } finally {
    conn.close();
  }
}
