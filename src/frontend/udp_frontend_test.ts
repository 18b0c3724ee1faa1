import assert from "node:assert/strict";
import { Admission } from "../access/admission.ts";
import { parseCidr } from "../access/cidr.ts";
import type { AnswerListener, QueryContext, QueryHandler } from "../query_handler.ts";
import { ReusePortUdpSocket, type UdpSocket } from "./reuse_port_udp.ts";
import { releaseLibc } from "./socket_descriptor.ts";
import { UdpFrontend } from "./udp_frontend.ts";

/** A query for `a.` A IN. */
const QUERY = new Uint8Array([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 97, 0, 0, 1, 0, 1]);
const CLIENT: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port: 5353 };

/** A socket whose receives fail `failures` times, then bring one query, then wait for close. */
class FailingSocket implements UdpSocket {
  readonly addr: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port: 53 };
  receives = 0;
  readonly sent: Uint8Array[] = [];
  readonly #closed = Promise.withResolvers<never>();

  constructor(readonly failures: number) {
    this.#closed.promise.catch(() => {});
  }

  receive(): Promise<[Uint8Array, Deno.Addr]> {
    const n = ++this.receives;
    if (n <= this.failures) return Promise.reject(new Error(`Cannot receive: failure ${n}`));
    if (n === this.failures + 1) return Promise.resolve([QUERY.slice(), CLIENT]);
    return this.#closed.promise;
  }

  send(data: Uint8Array): Promise<number> {
    this.sent.push(data);
    return Promise.resolve(data.length);
  }

  close(): void {
    this.#closed.reject(new Deno.errors.BadResource("Socket has been closed"));
  }
}

/** Answers every query with itself. */
const echo = {
  handle(query: Uint8Array, _context: QueryContext, listener: AnswerListener): void {
    listener.answered(query);
  },
} as unknown as QueryHandler;

function admission(): Admission {
  return new Admission({ allow: [parseCidr("127.0.0.0/8")], rateLimit: 0, maxInFlight: 10 });
}

Deno.test("UdpFrontend goes on receiving after failed receives", async () => {
  const socket = new FailingSocket(12);
  const frontend = new UdpFrontend(socket, echo, { admission: admission() });
  try {
    for (let i = 0; i < 500 && socket.sent.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(socket.sent.length, 1, `no answer after ${socket.receives} receives`);
    assert.deepEqual(socket.sent[0], QUERY);
  } finally {
    frontend.close();
    await frontend.done;
  }
});

Deno.test("UdpFrontend.close() ends the pauses after failed receives", async () => {
  // Every receive fails: the loops are in their pauses when the frontend closes (the op
  // sanitizer fails this test if a pause's timer is left behind).
  const socket = new FailingSocket(Infinity);
  const frontend = new UdpFrontend(socket, echo, { admission: admission() });
  for (let i = 0; i < 500 && socket.receives < 8; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.ok(socket.receives >= 8);
  frontend.close();
  await frontend.done;
});

/**
 * Answers a query at once when its ID is even (queued in its batch, sent by
 * sendmmsg), after a timer when it is odd (sent on its own). An answer is the
 * query with QR set and the client's port as the handler saw it appended, so
 * that a client can tell it got its own.
 */
class NowOrLater {
  handled = 0;
  handle(query: Uint8Array, context: QueryContext, listener: AnswerListener): void {
    this.handled++;
    const answer = new Uint8Array(query.length + 2);
    answer.set(query);
    answer[2]! |= 0x80;
    new DataView(answer.buffer).setUint16(query.length, context.client.port);
    if (query[1]! % 2 === 0) return listener.answered(answer);
    setTimeout(() => listener.answered(answer), 5);
  }
}

/** A client's next datagram, or an error naming what did not come within `ms`. */
async function receiveWithin(
  client: Deno.DatagramConn,
  ms: number,
  what: string,
): Promise<[Uint8Array, Deno.Addr]> {
  const timer = setTimeout(() => client.close(), ms);
  try {
    return await client.receive();
  } catch (error) {
    throw new Error(`no ${what} within ${ms} ms`, { cause: error });
  } finally {
    clearTimeout(timer);
  }
}

for (const hostname of ["127.0.0.1", "::1"]) {
  Deno.test(`UdpFrontend on a libc socket answers every client over ${hostname}, now and later`, async () => {
    const socket = new ReusePortUdpSocket(hostname, 0);
    const handler = new NowOrLater();
    const allow = [parseCidr("127.0.0.0/8"), parseCidr("::1/128")];
    const frontend = new UdpFrontend(socket, handler as unknown as QueryHandler, {
      admission: new Admission({ allow, rateLimit: 0, maxInFlight: 1000 }),
    });
    const clients = Array.from(
      { length: 8 },
      () => Deno.listenDatagram({ hostname, port: 0, transport: "udp" }),
    );
    try {
      const server = { transport: "udp" as const, hostname, port: socket.addr.port };
      // Every client sends 16 queries at once, so that batches hold several clients. (128
      // datagrams in all: the default receive buffer, 208 KiB, holds about 270 of them; more,
      // and the kernel drops some, as it did with 40 each.)
      const perClient = 16;
      await Promise.all(clients.map(async (client) => {
        for (let id = 0; id < perClient; id++) {
          const query = QUERY.slice();
          query[1] = id;
          await client.send(query, server);
        }
      }));
      await Promise.all(clients.map(async (client) => {
        const port = (client.addr as Deno.NetAddr).port;
        const seen = new Set<number>();
        for (let i = 0; i < perClient; i++) {
          const [answer] = await receiveWithin(client, 5000, `answer ${i + 1} of ${perClient}`);
          assert.equal(new DataView(answer.buffer).getUint16(answer.length - 2), port);
          assert.equal(answer[2]! & 0x80, 0x80);
          seen.add(answer[1]!);
        }
        assert.equal(seen.size, perClient);
      }));
      assert.equal(handler.handled, clients.length * perClient);
    } finally {
      for (const client of clients) {
        try {
          client.close();
        } catch {
          // Closed by receiveWithin.
        }
      }
      await frontend.drain(1000);
      assert.equal(releaseLibc(), true);
    }
  });
}

Deno.test("UdpFrontend on a libc socket answers rounds of cache hits, taken between rounds on its own thread", async () => {
  // Every answer is given at once, so nothing is in flight between rounds:
  // the frontend waits for the next round on the event loop's thread
  // (waitNow) rather than the blocking pool, and must miss none of it.
  const socket = new ReusePortUdpSocket("127.0.0.1", 0);
  const frontend = new UdpFrontend(socket, echo, { admission: admission() });
  const client = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const server = { transport: "udp" as const, hostname: "127.0.0.1", port: socket.addr.port };
  try {
    for (let round = 0; round < 20; round++) {
      for (let id = 0; id < 8; id++) {
        const query = QUERY.slice();
        query[1] = id;
        query[0] = round;
        await client.send(query, server);
      }
      const seen = new Set<number>();
      for (let i = 0; i < 8; i++) {
        const [answer] = await receiveWithin(client, 5000, `answer ${i + 1} of round ${round}`);
        assert.equal(answer[0], round);
        seen.add(answer[1]!);
      }
      assert.equal(seen.size, 8);
    }
  } finally {
    try {
      client.close();
    } catch {
      // Closed by receiveWithin.
    }
    await frontend.drain(1000);
  }
  assert.equal(releaseLibc(), true);
});
