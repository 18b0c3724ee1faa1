import assert from "node:assert/strict";
import { bindListeners, type Listeners } from "./bind_listeners.ts";
import { ReusePortUdpSocket } from "./reuse_port_udp.ts";
import { releaseLibc } from "./socket_descriptor.ts";

function close(listeners: Listeners): void {
  for (const listener of [...listeners.udp, ...listeners.tcp]) listener.close();
}

Deno.test("bindListeners takes UDP through libc on a port of its own with libcUdp, else Deno's socket", () => {
  const libc = bindListeners(["127.0.0.1"], 0, { reusePort: false, libcUdp: true });
  const deno = bindListeners(["127.0.0.1"], 0, { reusePort: false, libcUdp: false });
  try {
    assert.ok(libc.udp[0] instanceof ReusePortUdpSocket);
    assert.ok(!(deno.udp[0] instanceof ReusePortUdpSocket));
    // Without SO_REUSEPORT, no other socket can take a share of its clients.
    assert.throws(() => new ReusePortUdpSocket("127.0.0.1", libc.port), /in use/i);
  } finally {
    close(libc);
    close(deno);
  }
  assert.equal(releaseLibc(), true);
});
