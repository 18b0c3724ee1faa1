// Learning an upstream's idle close: after seeing the server close idle
// connections twice, the proxy retires its own connections just before the
// server would, so that no query is written on a connection being closed
// (and resent).

import assert from "node:assert/strict";
import { startFakeDotServer } from "./_util/fake_dot_server.ts";
import { buildQuery, decode, udpQuery } from "./_util/dns_client.ts";
import { startTestProxy } from "./_util/proxy_fixture.ts";
import { parsePrometheusText, valueOf } from "./_util/prometheus_text.ts";
import type { RunningProxy } from "../src/proxy.ts";

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function resends(proxy: RunningProxy, port: number): number {
  const families = parsePrometheusText(proxy.metrics.registry.render());
  return valueOf(families, "dotproxy_upstream_resends_total", { to: `127.0.0.1:${port}#dot.test` });
}

async function ask(proxy: RunningProxy, name: string): Promise<void> {
  const reply = decode(await udpQuery(proxy.port, buildQuery(name, "A")));
  assert.equal(reply.rcode, "NOERROR", name);
}

Deno.test("a server that closes idle connections under the next query: two resends, then none", async () => {
  // Idle 1500 ms before each query, past the server's 300 ms: the query finds the connection closing.
  // (Closes after less than 1000 ms idle are not learned, so the idle time must be longer.)
  await using server = await startFakeDotServer({ idleClose: { afterMs: 300, mode: "on-query" } });
  await using proxy = startTestProxy({ upstreams: [server], cacheSize: 0 });
  const seen: number[] = [];
  for (let round = 0; round < 5; round++) {
    if (round > 0) await sleep(1500);
    await ask(proxy, `round${round}.example.test`);
    seen.push(resends(proxy, server.port));
  }
  // Rounds 1 and 2 pay a resend each and teach the proxy the idle time
  // (about 1500 ms, as the server gave no sign earlier); from then on it
  // retires connections after 1200 ms idle, and the query opens a fresh one.
  assert.deepEqual(seen, [0, 1, 2, 2, 2]);
  assert.equal(server.idleCloses, 2);
  assert.equal(server.connectionsAccepted, 5);
});

Deno.test("a server that closes idle connections on a timer: the proxy learns it and closes first", async () => {
  await using server = await startFakeDotServer({ idleClose: { afterMs: 1500, mode: "timer" } });
  await using proxy = startTestProxy({ upstreams: [server], cacheSize: 0 });
  const closes: number[] = [];
  for (let round = 0; round < 4; round++) {
    await ask(proxy, `timer${round}.example.test`);
    await sleep(1800);
    closes.push(server.idleCloses);
  }
  // Two idle closes by the server teach the proxy about 1500 ms; its later
  // connections are retired after 1200 ms, before the server's timer.
  assert.deepEqual(closes, [1, 2, 2, 2]);
  assert.equal(resends(proxy, server.port), 0);
  assert.equal(server.connectionsAccepted, 4);
  assert.equal(server.openConnections, 0);
});

Deno.test("a server that closes connections after less than a second idle: not learned, the proxy keeps its idle time", async () => {
  await using server = await startFakeDotServer({ idleClose: { afterMs: 300, mode: "timer" } });
  await using proxy = startTestProxy({ upstreams: [server], cacheSize: 0 });
  const closes: number[] = [];
  for (let round = 0; round < 4; round++) {
    await ask(proxy, `short${round}.example.test`);
    await sleep(600);
    closes.push(server.idleCloses);
  }
  // Had the proxy learned 300 ms, it would retire connections after 240 ms
  // from the third round on, and the server would close no more.
  assert.deepEqual(closes, [1, 2, 3, 4]);
  assert.equal(resends(proxy, server.port), 0);
  assert.equal(server.connectionsAccepted, 4);
});
