import assert from "node:assert/strict";
import { Admission } from "../access/admission.ts";
import { parseCidr } from "../access/cidr.ts";
import type { AnswerListener, QueryContext, QueryHandler } from "../query_handler.ts";
import type { UdpSocket } from "./reuse_port_udp.ts";
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
