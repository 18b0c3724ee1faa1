import assert from "node:assert/strict";
import { ReusePortUdpSocket } from "./reuse_port_udp.ts";
import { decodeAddress, encodeAddress } from "./socket_address.ts";
import { closeDescriptor, openDescriptors, releaseLibc } from "./socket_descriptor.ts";

Deno.test("encodeAddress() and decodeAddress() round-trip IPv4 and IPv6", () => {
  for (
    const [hostname, port] of [
      ["127.0.0.1", 53],
      ["::1", 5353],
      ["2001:db8::1:0:0:1", 1],
      ["::ffff:192.0.2.1", 53],
    ]
  ) {
    const addr = decodeAddress(encodeAddress(hostname as string, port as number));
    assert.equal(addr.hostname, hostname);
    assert.equal(addr.port, port);
  }
  assert.throws(() => encodeAddress("example.com", 53), TypeError);
});

Deno.test("ReusePortUdpSocket shares a port with another and answers each client", async () => {
  const first = new ReusePortUdpSocket("127.0.0.1", 0);
  const second = new ReusePortUdpSocket("127.0.0.1", first.addr.port);
  const received = [0, 0];
  const serve = (socket: ReusePortUdpSocket, index: number) =>
    (async () => {
      const buffer = new Uint8Array(4096);
      for (;;) {
        try {
          const [data, addr] = await socket.receive(buffer);
          received[index]!++;
          await socket.send(data.map((byte) => byte + 1), addr);
        } catch (error) {
          if (error instanceof Deno.errors.BadResource) return;
          throw error;
        }
      }
    })();
  const loops = [serve(first, 0), serve(second, 1)];
  // Clients on distinct source ports until both sockets have been chosen (bounded).
  for (let i = 0; i < 64 && (received[0] === 0 || received[1] === 0); i++) {
    const client = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
    await client.send(new Uint8Array([i]), {
      transport: "udp",
      hostname: "127.0.0.1",
      port: first.addr.port,
    });
    const [reply] = await client.receive();
    client.close();
    assert.deepEqual(reply, new Uint8Array([i + 1]));
  }
  assert.ok(received[0]! > 0 && received[1]! > 0, `spread ${received}`);
  first.close();
  second.close();
  await Promise.all(loops);
  await assert.rejects(() => first.receive(), Deno.errors.BadResource);
  assert.equal(releaseLibc(), true);
});

Deno.test("ReusePortUdpSocket on :: takes IPv4 clients too, named ::ffff:a.b.c.d as Deno names them", async () => {
  const socket = new ReusePortUdpSocket("::", 0);
  const client = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  try {
    const receiving = socket.receive();
    await client.send(new Uint8Array([7]), {
      transport: "udp",
      hostname: "127.0.0.1",
      port: socket.addr.port,
    });
    const timer = setTimeout(() => socket.close(), 5000);
    const [data, from] = await receiving;
    clearTimeout(timer);
    assert.deepEqual(data, new Uint8Array([7]));
    assert.equal(from.hostname, "::ffff:127.0.0.1");
    assert.equal(from.port, (client.addr as Deno.NetAddr).port);
    await socket.send(new Uint8Array([8]), from);
    const [reply] = await client.receive();
    assert.deepEqual(reply, new Uint8Array([8]));
  } finally {
    client.close();
    socket.close();
  }
  assert.equal(releaseLibc(), true);
});

Deno.test("closeDescriptor() leaves alone a number that names another socket now", async () => {
  const gone = new ReusePortUdpSocket("127.0.0.1", 0);
  const stale = { fd: gone.fd, cookie: gone.cookie };
  gone.close();
  const socket = new ReusePortUdpSocket("127.0.0.1", 0);
  try {
    assert.notEqual(socket.cookie, stale.cookie);
    assert.deepEqual(openDescriptors(), [{ fd: socket.fd, cookie: socket.cookie }]);
    // The dead socket's cookie with the live socket's number (the case of a reused number).
    assert.equal(closeDescriptor({ fd: socket.fd, cookie: stale.cookie }), false);
    assert.equal(closeDescriptor(stale), false);
    // Still open: it receives.
    const client = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
    const receiving = socket.receive();
    await client.send(new Uint8Array([1]), {
      transport: "udp",
      hostname: "127.0.0.1",
      port: socket.addr.port,
    });
    const timer = setTimeout(() => socket.close(), 5000);
    const [data] = await receiving;
    clearTimeout(timer);
    client.close();
    assert.deepEqual(data, new Uint8Array([1]));
  } finally {
    socket.close();
  }
  assert.equal(releaseLibc(), true);
});

/** libc calls the tests make on a socket behind its back. */
function behindItsBack() {
  return Deno.dlopen("libc.so.6", {
    open: { parameters: ["buffer", "i32"], result: "i32" },
    dup2: { parameters: ["i32", "i32"], result: "i32" },
    close: { parameters: ["i32"], result: "i32" },
    shutdown: { parameters: ["i32", "i32"], result: "i32" },
  });
}

Deno.test("ReusePortUdpSocket.receive() throws the error when its descriptor names no socket", async () => {
  const libc = behindItsBack();
  const socket = new ReusePortUdpSocket("127.0.0.1", 0);
  try {
    // The number now names /dev/null (the socket itself is gone): recvmmsg fails with ENOTSOCK.
    const devNull = libc.symbols.open(new TextEncoder().encode("/dev/null\0"), 0);
    assert.ok(devNull >= 0);
    assert.equal(libc.symbols.dup2(devNull, socket.fd), socket.fd);
    libc.symbols.close(devNull);
    await assert.rejects(
      () => socket.receive(),
      /^Error: Cannot receive: Socket operation on non-socket$/,
    );
    // And again on the next receive, rather than a loop of failing calls.
    await assert.rejects(() => socket.receive(), /Cannot receive/);
  } finally {
    socket.close();
    libc.close();
  }
  assert.equal(releaseLibc(), true);
});

Deno.test("ReusePortUdpSocket.receive() throws when the socket is shut down from outside", async () => {
  const libc = behindItsBack();
  const socket = new ReusePortUdpSocket("127.0.0.1", 0);
  try {
    assert.equal(libc.symbols.shutdown(socket.fd, 0), -1); // ENOTCONN, yet it is shut down
    await assert.rejects(
      () => socket.receive(),
      /^Error: Cannot receive: 9 failed receives in a row/,
    );
  } finally {
    socket.close();
    libc.close();
  }
  assert.equal(releaseLibc(), true);
});

Deno.test("ReusePortUdpSocket without SO_REUSEPORT keeps its port to itself", () => {
  const own = new ReusePortUdpSocket("127.0.0.1", 0, false);
  try {
    assert.throws(() => new ReusePortUdpSocket("127.0.0.1", own.addr.port), /in use/i);
    assert.throws(() => new ReusePortUdpSocket("127.0.0.1", own.addr.port, false), /in use/i);
  } finally {
    own.close();
  }
  assert.equal(releaseLibc(), true);
});

Deno.test("ReusePortUdpSocket.waitNow() says whether a datagram is queued, for receiveNow() to take", async () => {
  const socket = new ReusePortUdpSocket("127.0.0.1", 0);
  const client = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  try {
    assert.equal(socket.waitNow(1000), false, "nothing sent yet");
    assert.equal(socket.receiveNow(), 0);
    const server = { transport: "udp" as const, hostname: "127.0.0.1", port: socket.addr.port };
    await client.send(new Uint8Array([1]), server);
    await client.send(new Uint8Array([2]), server);
    // Loopback delivery is done when send returns: the wait ends at once.
    assert.equal(socket.waitNow(1_000_000), true);
    assert.equal(socket.receiveNow(), 2);
    assert.deepEqual([socket.datagram(0), socket.datagram(1)], [
      new Uint8Array([1]),
      new Uint8Array([2]),
    ]);
    assert.equal(socket.waitNow(1000), false, "both taken");
  } finally {
    client.close();
    socket.close();
  }
  assert.equal(socket.waitNow(1000), false, "closed");
  assert.equal(releaseLibc(), true);
});
