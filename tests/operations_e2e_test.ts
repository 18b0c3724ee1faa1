// The operations endpoint and the built-in health check against the real
// proxy: metrics that move by the right amounts after real queries and
// parse as strict Prometheus text, readiness that ignores upstream outages, a
// lame-duck period, and `dotproxy healthcheck` exit codes.

import assert from "node:assert/strict";
import { answer, type ReceivedQuery, startFakeDotServer } from "./_util/fake_dot_server.ts";
import { extendedErrorOf } from "./_util/records.ts";
import { buildQuery, decode, TcpDnsClient, udpQuery } from "./_util/dns_client.ts";
import { deadPort, startTestProxy } from "./_util/proxy_fixture.ts";
import { parsePrometheusText, valueOf } from "./_util/prometheus_text.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

async function get(addr: Deno.NetAddr, path: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://${addr.hostname}:${addr.port}${path}`);
  return { status: response.status, body: await response.text() };
}

async function waitForStatus(addr: Deno.NetAddr, path: string, status: number): Promise<string> {
  let last = { status: 0, body: "" };
  for (let i = 0; i < 100 && last.status !== status; i++) { // bounded: about 10 s
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, 100));
    last = await get(addr, path);
  }
  assert.equal(last.status, status, `${path}: ${last.body}`);
  return last.body;
}

/** id.server. CH TXT */
function idServerQuery(id: number): Uint8Array {
  return new Uint8Array([
    id >> 8,
    id & 0xff,
    1,
    0,
    0,
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    2,
    0x69,
    0x64,
    6,
    0x73,
    0x65,
    0x72,
    0x76,
    0x65,
    0x72,
    0,
    0,
    16,
    0,
    3,
  ]);
}

Deno.test("/metrics counts real queries by the right amounts and parses as Prometheus text", async () => {
  await using upstream = await startFakeDotServer();
  await using proxy = startTestProxy({ upstreams: [upstream], http: true });
  const label = proxy.upstreams[0]!.label;
  await udpQuery(proxy.port, buildQuery("one.example.test", "A"));
  await udpQuery(proxy.port, buildQuery("two.example.test", "A"));
  await udpQuery(proxy.port, buildQuery("one.example.test", "A")); // from the cache
  await using client = await TcpDnsClient.connect(proxy.port);
  await client.send(buildQuery("three.example.test", "AAAA"));
  await client.receive();
  await udpQuery(proxy.port, new Uint8Array([0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0])); // FORMERR
  const id = decode(await udpQuery(proxy.port, idServerQuery(77)));
  assert.equal(id.rcode, "NOERROR");

  const { status, body } = await get(proxy.http!.addr, "/metrics");
  assert.equal(status, 200);
  const metrics = parsePrometheusText(body);
  const expect = (name: string, labels: Record<string, string>, value: number) =>
    assert.equal(valueOf(metrics, name, labels), value, `${name} ${JSON.stringify(labels)}`);
  expect("dotproxy_dns_requests_total", { proto: "udp", type: "A" }, 3);
  expect("dotproxy_dns_requests_total", { proto: "tcp", type: "AAAA" }, 1);
  expect("dotproxy_dns_requests_total", { proto: "udp", type: "TXT" }, 1);
  const responses = (proto: string, rcode: string, source: string) => ({ proto, rcode, source });
  expect("dotproxy_dns_responses_total", responses("udp", "NOERROR", "upstream"), 2);
  expect("dotproxy_dns_responses_total", responses("tcp", "NOERROR", "upstream"), 1);
  expect("dotproxy_dns_responses_total", responses("udp", "NOERROR", "cache"), 1);
  expect("dotproxy_dns_responses_total", responses("udp", "NOERROR", "local"), 1);
  expect("dotproxy_dns_responses_total", responses("udp", "FORMERR", "formerr"), 1);
  expect("dotproxy_dns_rejected_total", { action: "formerr", reason: "malformed" }, 1);
  expect("dotproxy_dns_request_duration_seconds_count", { proto: "udp" }, 5);
  expect("dotproxy_dns_request_duration_seconds_count", { proto: "tcp" }, 1);
  expect("dotproxy_cache_requests_total", { result: "hit" }, 1);
  expect("dotproxy_cache_requests_total", { result: "miss" }, 3);
  expect("dotproxy_cache_entries", {}, 3);
  expect("dotproxy_upstream_requests_total", { to: label }, 3);
  expect("dotproxy_upstream_request_duration_seconds_count", { to: label }, 3);
  expect("dotproxy_upstream_tls_connections_opened_total", { to: label }, 1);
  expect("dotproxy_upstream_tls_connections", { to: label }, 1);
  expect("dotproxy_upstream_requests_in_flight", { to: label }, 0);
  expect("dotproxy_upstream_up", { to: label }, 1);
  for (const reason of ["denied", "rate-limited", "overloaded", "any-truncated", "tcp-rejected"]) {
    assert.ok(
      metrics.get("dotproxy_admission_rejected_total")?.samples.some((sample) =>
        sample.labels.reason === reason
      ),
      reason,
    );
  }
  assert.equal(metrics.get("dotproxy_build_info")?.samples[0]?.value, 1);
  assert.equal(metrics.get("dotproxy_build_info")?.samples[0]?.labels.version, "0.0.0-test");
});

Deno.test("failures are counted by upstream and reason", async () => {
  const dead = `127.0.0.1:${deadPort()}#dot.test`;
  await using live = await startFakeDotServer();
  await using proxy = startTestProxy({ upstreams: [dead, live], http: true });
  await udpQuery(proxy.port, buildQuery("failover.example.test", "A"));
  const metrics = parsePrometheusText((await get(proxy.http!.addr, "/metrics")).body);
  // The query's attempt, and the probes that follow (their number depends on timing).
  assert.ok(valueOf(metrics, "dotproxy_upstream_failures_total", { reason: "connect" }) >= 1);
  assert.equal(valueOf(metrics, "dotproxy_upstream_up", { to: dead }), 0);
});

Deno.test("/readyz stays 200 through an upstream outage while stale answers are served; /healthz shows the upstream down", async () => {
  const withTtl1 = (query: ReceivedQuery) =>
    answer(query, { answers: [{ type: "A", name: query.name, ttl: 1, data: "192.0.2.7" }] });
  let upstream = await startFakeDotServer({ handler: withTtl1 });
  const port = upstream.port;
  await using proxy = startTestProxy({ upstreams: [upstream], http: true, idleProbeMs: 200 });
  try {
    const addr = proxy.http!.addr;
    await waitForStatus(addr, "/readyz", 200);
    const first = decode(await udpQuery(proxy.port, buildQuery("outage.example.test", "A")));
    assert.equal(first.rcode, "NOERROR");
    await upstream.close();
    let health = "";
    for (let i = 0; i < 100 && !/ down /.test(health); i++) { // bounded: about 10 s
      await new Promise((resolve) => setTimeout(resolve, 100));
      health = (await get(addr, "/healthz")).body;
    }
    assert.match(health, /^ok\n/);
    assert.match(health, new RegExp(`upstream 127\\.0\\.0\\.1:${port}#\\S+ down`));
    const metrics = parsePrometheusText((await get(addr, "/metrics")).body);
    assert.equal(valueOf(metrics, "dotproxy_upstream_up", {}), 0);
    await new Promise((resolve) => setTimeout(resolve, 1100)); // the cached answer expires
    const stale = decode(
      await udpQuery(proxy.port, buildQuery("outage.example.test", "A", { edns: {} })),
    );
    assert.equal(stale.rcode, "NOERROR");
    assert.equal(extendedErrorOf(stale), 3, "EDE 3 Stale Answer");
    const ready = await get(addr, "/readyz");
    assert.equal(ready.status, 200, `ready during the outage: ${ready.body}`);
    upstream = await startFakeDotServer({ port });
    for (let i = 0; i < 100 && !/ up /.test(health); i++) { // bounded: about 10 s
      await new Promise((resolve) => setTimeout(resolve, 100));
      health = (await get(addr, "/healthz")).body;
    }
    assert.match(health, / up \(answered [\d.]+ s ago\)/);
    assert.equal((await get(addr, "/nope")).status, 404);
  } finally {
    await upstream.close();
  }
});

Deno.test("lame duck: /readyz turns 503 while queries are still answered", async () => {
  await using upstream = await startFakeDotServer();
  await using proxy = startTestProxy({ upstreams: [upstream], http: true });
  await udpQuery(proxy.port, buildQuery("before.example.test", "A"));
  proxy.enterLameDuck();
  const { status, body } = await get(proxy.http!.addr, "/readyz");
  assert.equal(status, 503);
  assert.match(body, /lame duck/);
  const reply = decode(await udpQuery(proxy.port, buildQuery("during.example.test", "A")));
  assert.equal(reply.rcode, "NOERROR");
});

Deno.test("`dotproxy healthcheck` exits 0 against a live proxy, even with its upstream down, and 1 against none", async () => {
  await using proxy = startTestProxy({
    upstreams: [`127.0.0.1:${deadPort()}#dot.test`],
    listen: ["127.0.0.1", "127.0.0.2"],
  });
  const live = await healthcheck(proxy.port, "127.0.0.1,127.0.0.2");
  assert.equal(live.code, 0, live.stderr);
  const none = await healthcheck(deadPort(), "127.0.0.1");
  assert.equal(none.code, 1);
  assert.match(none.stderr, /unhealthy/);
});

Deno.test("`dotproxy healthcheck` checks every --listen address: one that does not answer fails it", async () => {
  await using proxy = startTestProxy({
    upstreams: [`127.0.0.1:${deadPort()}#dot.test`],
    listen: ["127.0.0.1"],
  });
  const partial = await healthcheck(proxy.port, "127.0.0.1,127.0.0.3");
  assert.equal(partial.code, 1);
  assert.match(partial.stderr, /127\.0\.0\.3/);
  assert.doesNotMatch(partial.stderr, /127\.0\.0\.1 /);
});

/** Runs `main.ts healthcheck` against `port` with DOTPROXY_LISTEN set to `listen`. */
async function healthcheck(
  port: number,
  listen: string,
): Promise<{ code: number; stderr: string }> {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-env",
      MAIN,
      "healthcheck",
      "--port",
      `${port}`,
    ],
    env: { DOTPROXY_LISTEN: listen },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code, stderr: new TextDecoder().decode(stderr) };
}
