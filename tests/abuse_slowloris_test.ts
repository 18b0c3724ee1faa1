/**
 * Hostile TCP clients: hundreds of connections that send nothing or a byte
 * at a time (slowloris), and one that sends queries but never reads. None of
 * them may stop well-behaved clients, which come from another loopback
 * address (127.0.0.2) so that the per-client cap does not decide the result.
 */

import assert from "node:assert/strict";
import { BoundUdpClient, NodeTcpDnsClient, waitFor } from "./_util/abuse_clients.ts";
import { startAbuseProxy } from "./_util/abuse_fixture.ts";
import { buildQuery, decode } from "./_util/dns_client.ts";
import { answer, defaultAnswer, startFakeDotServer } from "./_util/fake_dot_server.ts";
import type { ReceivedQuery } from "./_util/fake_dot_server.ts";
import { dataOf } from "./_util/records.ts";

const ATTACKERS = 300;

/** A raw TCP connection from 127.0.0.1 that notices when the proxy closes it. */
class Attacker {
  readonly conn: Deno.TcpConn;
  closedByProxy = false;
  answers = 0;
  readonly done: Promise<void>;

  constructor(conn: Deno.TcpConn) {
    this.conn = conn;
    this.done = this.#read();
  }

  async #read(): Promise<void> {
    const buffer = new Uint8Array(4096);
    try {
      for (;;) {
        const n = await this.conn.read(buffer);
        if (n === null) break;
        this.answers++;
      }
    } catch {
      // a reset by the proxy, or our own close at the end of the test
    }
    this.closedByProxy = true;
  }

  /** Sends one byte; false once the connection is gone. */
  async trickle(byte: number): Promise<boolean> {
    if (this.closedByProxy) return false;
    try {
      await this.conn.write(new Uint8Array([byte]));
      return true;
    } catch {
      return false; // closed by the proxy
    }
  }

  async close(): Promise<void> {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
    await this.done;
  }
}

async function openAttackers(port: number, count: number): Promise<Attacker[]> {
  const attackers: Attacker[] = [];
  for (let i = 0; i < count; i++) {
    attackers.push(new Attacker(await Deno.connect({ hostname: "127.0.0.1", port })));
  }
  return attackers;
}

async function assertServed(port: number, name: string): Promise<void> {
  await using udp = new BoundUdpClient("127.0.0.2");
  const viaUdp = decode(await udp.query(port, buildQuery(name, "A")));
  assert.equal(dataOf(viaUdp.answers[0]!), "192.0.2.1");
  await using tcp = await NodeTcpDnsClient.connect(port, "127.0.0.2");
  tcp.send(buildQuery(name, "A", { id: 4242 }));
  const viaTcp = decode(await tcp.receive());
  assert.equal(viaTcp.id, 4242);
  assert.equal(dataOf(viaTcp.answers[0]!), "192.0.2.1");
}

Deno.test("idle connections beyond --max-tcp-per-client are closed at once", async () => {
  await using upstream = await startFakeDotServer();
  await using proxy = startAbuseProxy([upstream], { maxTcpPerClient: 20 });
  const attackers = await openAttackers(proxy.port, ATTACKERS);
  try {
    const closed = () => attackers.filter((attacker) => attacker.closedByProxy).length;
    assert(await waitFor(() => closed() === ATTACKERS - 20, 10_000), `${closed()} closed`);
    assert.equal(proxy.admission.counters.tcpRejected, ATTACKERS - 20);
    await assertServed(proxy.port, "per-client.test");
  } finally {
    await Promise.all(attackers.map((attacker) => attacker.close()));
  }
});

Deno.test("hundreds of silent and byte-at-a-time clients cannot lock others out", async () => {
  await using upstream = await startFakeDotServer();
  await using proxy = startAbuseProxy([upstream], {
    maxTcpConnections: 100,
    maxTcpPerClient: 1000,
    tcpIdleTimeoutMs: 1500,
  });
  const attackers = await openAttackers(proxy.port, ATTACKERS);
  const tricklers = attackers.filter((_, index) => index % 2 === 1);
  let trickling = true;
  // Each trickler declares a 100-octet query, then sends it a byte every 100 ms:
  // whole queries never arrive, so the idle timer is never reset.
  const trickle = (async () => {
    for (let step = 0; trickling; step++) {
      const byte = step === 1 ? 100 : 0x41;
      await Promise.all(tricklers.map((attacker) => attacker.trickle(byte)));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  try {
    // The table holds at most 100 (newcomers evicted the oldest idle ones),
    // and a well-behaved client still gets in, over UDP and TCP.
    await assertServed(proxy.port, "while-attacked.test");
    assert(proxy.admission.counters.tcpEvicted > 0);
    // Every attacker is cut off: evicted, or timed out though it kept sending.
    const open = () => attackers.filter((attacker) => !attacker.closedByProxy).length;
    assert(await waitFor(() => open() === 0, 15_000), `${open()} still open`);
    assert(attackers.every((attacker) => attacker.answers === 0));
    await assertServed(proxy.port, "after-attack.test");
  } finally {
    trickling = false;
    await trickle;
    await Promise.all(attackers.map((attacker) => attacker.close()));
  }
});

/** About 60 KiB of TXT data per answer, so that a few dozen answers fill the socket buffers. */
function bigAnswer(query: ReceivedQuery): Uint8Array | Promise<Uint8Array> {
  if (!query.name.startsWith("big")) return defaultAnswer(query);
  const strings = Array.from({ length: 60 }, () => "x".repeat(250));
  const answers = Array.from(
    { length: 4 },
    () => ({ type: "TXT" as const, name: query.name, ttl: 60, data: strings }),
  );
  return answer(query, { answers });
}

Deno.test("a client that never reads its answers is cut off and pins nothing", async () => {
  await using upstream = await startFakeDotServer({ handler: bigAnswer });
  await using proxy = startAbuseProxy([upstream], { tcpIdleTimeoutMs: 1000 });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
  const queries = 200;
  try {
    const frames: Uint8Array[] = [];
    for (let id = 0; id < queries; id++) {
      const query = buildQuery(`big${id}.test`, "TXT", { id });
      frames.push(new Uint8Array([query.length >> 8, query.length & 0xff]), query);
    }
    const all = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
    frames.reduce((offset, f) => (all.set(f, offset), offset + f.length), 0);
    await conn.write(all).catch(() => {}); // the proxy may close before taking it all
    // The proxy stops reading at 100 queries in flight, its writes stall, and
    // after the timeout it closes: meanwhile others are served.
    await assertServed(proxy.port, "not-blocked.test");
    assert(await waitFor(() => proxy.admission.inFlight.count === 0, 15_000));
    let received = 0;
    const buffer = new Uint8Array(65536);
    for (;;) {
      const n = await conn.read(buffer).catch(() => null);
      if (n === null) break;
      received += n;
    }
    assert(received < queries * 60_000, `${received} octets: the connection was cut short`);
  } finally {
    try {
      conn.close();
    } catch {
      // closed by the proxy
    }
  }
});
