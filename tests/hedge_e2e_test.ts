// Hedged queries end to end: a query the first upstream sits on goes to the
// second as well and the first answer wins; never with one upstream up,
// never past the budget, never with --hedge off.

import assert from "node:assert/strict";
import { startFakeDotServer } from "./_util/fake_dot_server.ts";
import { buildQuery, decode, udpQuery } from "./_util/dns_client.ts";
import { deadPort, startTestProxy } from "./_util/proxy_fixture.ts";
import { parsePrometheusText, valueOf } from "./_util/prometheus_text.ts";
import { dotproxy, waitUntilAnswering } from "./_util/cli.ts";
import { testdataPath } from "./_util/tools.ts";
import type { RunningProxy } from "../src/proxy.ts";
import { HEDGE_BURST, HEDGE_SHARE } from "../src/upstream/hedge_policy.ts";

/** A fake upstream that never answers names starting with `stall.`. */
function stallingUpstream() {
  return startFakeDotServer({
    handler: async (query) => {
      if (query.name.startsWith("stall.")) return "ignore";
      const { defaultAnswer } = await import("./_util/fake_dot_answers.ts");
      return defaultAnswer(query);
    },
  });
}

function metric(proxy: RunningProxy, name: string, to: string): number {
  return valueOf(parsePrometheusText(proxy.metrics.registry.render()), name, { to });
}

function label(port: number): string {
  return `127.0.0.1:${port}#dot.test`;
}

Deno.test("a query the first upstream sits on is hedged to the second, which answers; metrics count it", async () => {
  await using slow = await stallingUpstream();
  await using fast = await startFakeDotServer();
  await using proxy = startTestProxy({ upstreams: [slow, fast], cacheSize: 0 });
  // Eight answers teach the proxy the first upstream's usual round trip (the delay is then the floor).
  for (let i = 0; i < 8; i++) {
    const reply = decode(await udpQuery(proxy.port, buildQuery(`warm${i}.example.test`, "A")));
    assert.equal(reply.rcode, "NOERROR");
  }
  assert.equal(fast.queries.length, 0, "sequential: the first upstream answers while it is fast");
  const reply = decode(
    await udpQuery(proxy.port, buildQuery("stall.example.test", "A", { id: 77 })),
  );
  assert.equal(reply.id, 77);
  assert.equal(reply.rcode, "NOERROR");
  assert.equal(reply.answers?.[0]?.data, "192.0.2.1");
  assert.deepEqual(fast.queries.map((query) => query.name), ["stall.example.test"]);
  assert.equal(slow.queries.filter((query) => query.name === "stall.example.test").length, 1);
  assert.equal(metric(proxy, "dotproxy_upstream_hedges_total", label(fast.port)), 1);
  assert.equal(metric(proxy, "dotproxy_upstream_hedge_wins_total", label(fast.port)), 1);
  assert.equal(metric(proxy, "dotproxy_upstream_hedges_total", label(slow.port)), 0);
  // Answered by the hedge while the first attempt still waits: not a failover after a timeout.
  const timeouts = valueOf(
    parsePrometheusText(proxy.metrics.registry.render()),
    "dotproxy_upstream_failures_total",
    { to: label(slow.port), reason: "timeout" },
  );
  assert.equal(timeouts, 0);
  assert.equal(proxy.upstreams[0]!.health.up, true);
});

Deno.test("no hedge when the group has one upstream", async () => {
  await using only = await startFakeDotServer();
  await using proxy = startTestProxy({ upstreams: [only], hedge: 20, cacheSize: 0 });
  const reply = decode(await udpQuery(proxy.port, buildQuery("delay-300.one.example.test", "A")));
  assert.equal(reply.rcode, "NOERROR");
  assert.equal(only.queries.length, 1);
  assert.equal(metric(proxy, "dotproxy_upstream_hedges_total", label(only.port)), 0);
});

Deno.test("no hedge when the only other upstream is down", async () => {
  await using live = await startFakeDotServer();
  const dead = deadPort();
  await using proxy = startTestProxy({
    upstreams: [`127.0.0.1:${dead}#dot.test`, live],
    hedge: 20,
    cacheSize: 0,
  });
  // The first query fails over from the dead upstream, which is then down.
  assert.equal(
    decode(await udpQuery(proxy.port, buildQuery("a.example.test", "A"))).rcode,
    "NOERROR",
  );
  assert.equal(proxy.upstreams[0]!.health.up, false);
  const reply = decode(await udpQuery(proxy.port, buildQuery("delay-300.b.example.test", "A")));
  assert.equal(reply.rcode, "NOERROR");
  assert.equal(live.queries.length, 2);
  assert.equal(metric(proxy, "dotproxy_upstream_hedges_total", label(dead)), 0);
  assert.equal(metric(proxy, "dotproxy_upstream_hedges_total", label(live.port)), 0);
});

Deno.test("hedges stay within their share of queries when every query is slow", async () => {
  await using slow = await startFakeDotServer();
  await using fast = await startFakeDotServer();
  await using proxy = startTestProxy({ upstreams: [slow, fast], hedge: 20, cacheSize: 0 });
  const count = 60;
  const replies = await Promise.all(
    Array.from(
      { length: count },
      (_, i) =>
        udpQuery(proxy.port, buildQuery(`delay-300.q${i}.example.test`, "A"), { timeoutMs: 3000 }),
    ),
  );
  for (const bytes of replies) assert.equal(decode(bytes).rcode, "NOERROR");
  const hedges = metric(proxy, "dotproxy_upstream_hedges_total", label(fast.port));
  const bound = Math.min(1 + HEDGE_SHARE * count, 1 + HEDGE_BURST);
  assert.ok(hedges >= 1, "the budget allows some hedges");
  assert.ok(hedges <= Math.floor(bound + 1e-9), `${hedges} hedges for ${count} queries`);
  assert.equal(fast.queries.length, hedges, "every query the second upstream saw was a hedge");
  assert.equal(slow.queries.length, count);
});

Deno.test("--hedge off: the first upstream's slow answer is waited for, nothing goes to the second", async () => {
  await using slow = await startFakeDotServer();
  await using fast = await startFakeDotServer();
  const port = deadPort();
  const child = dotproxy([
    ...["--port", String(port), "--ca-file", testdataPath("tls", "ca.pem")],
    ...["--upstream", label(slow.port), "--upstream", label(fast.port)],
    ...["--upstream-policy", "sequential", "--hedge", "off", "--log-level", "warning"],
  ]).spawn();
  try {
    assert.ok(await waitUntilAnswering(port), "the proxy answers");
    const reply = decode(await udpQuery(port, buildQuery("delay-400.off.example.test", "A")));
    assert.equal(reply.rcode, "NOERROR");
    assert.equal(fast.queries.length, 0);
    assert.equal(slow.queries.filter((query) => query.name.startsWith("delay-400")).length, 1);
  } finally {
    child.kill("SIGTERM");
    const { code } = await child.output();
    assert.equal(code, 0);
  }
});

Deno.test("DOTPROXY_HEDGE=30: a slow first upstream's query also goes to the second", async () => {
  await using slow = await startFakeDotServer();
  await using fast = await startFakeDotServer();
  const port = deadPort();
  const child = dotproxy([
    ...["--port", String(port), "--ca-file", testdataPath("tls", "ca.pem")],
    ...["--upstream", label(slow.port), "--upstream", label(fast.port)],
    // One worker: the hedge budget is per worker, and each query below comes from a new socket
    // that SO_REUSEPORT may hand to either worker.
    ...["--upstream-policy", "sequential", "--log-level", "warning", "--workers", "1"],
  ], { DOTPROXY_HEDGE: "30" }).spawn();
  try {
    assert.ok(await waitUntilAnswering(port), "the proxy answers");
    // The first query may have been hedged while the first connection was
    // being set up; quick answers refill the budget (one hedge per 20 queries).
    for (let i = 0; i < 1 / HEDGE_SHARE; i++) {
      decode(await udpQuery(port, buildQuery(`refill${i}.example.test`, "A")));
    }
    const before = fast.queries.length;
    const reply = decode(await udpQuery(port, buildQuery("delay-1500.on.example.test", "A")));
    assert.equal(reply.rcode, "NOERROR");
    assert.deepEqual(fast.queries.slice(before).map((query) => query.name), [
      "delay-1500.on.example.test",
    ]);
  } finally {
    child.kill("SIGTERM");
    const { code } = await child.output();
    assert.equal(code, 0);
  }
});
