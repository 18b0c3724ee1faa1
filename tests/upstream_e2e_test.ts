// The proxy's upstream side against real TLS servers: pipelining on one
// connection with out-of-order replies, refusing replies that do not match,
// failover, strict certificate checks, deadlines, resending after a close,
// and recovery of an upstream that comes back.

import assert from "node:assert/strict";
import { answer, startFakeDotServer } from "./_util/fake_dot_server.ts";
import { buildQuery, decode, encode, TcpDnsClient, udpQuery } from "./_util/dns_client.ts";
import { extendedErrorOf } from "./_util/records.ts";
import { deadPort, startTestProxy } from "./_util/proxy_fixture.ts";
import { testdataPath } from "./_util/tools.ts";

Deno.test("50 concurrent queries share one pipelined TLS connection, replies out of order", async () => {
  await using upstream = await startFakeDotServer();
  await using proxy = startTestProxy({ upstreams: [upstream] });
  const names = Array.from({ length: 50 }, (_, i) => `delay-${(i * 37) % 200}.n${i}.example.test`);
  const replies = await Promise.all(
    names.map((name, i) => udpQuery(proxy.port, buildQuery(name, "A", { id: i }))),
  );
  for (const [i, bytes] of replies.entries()) {
    const reply = decode(bytes);
    assert.equal(reply.id, i);
    assert.equal(reply.questions?.[0]?.name, names[i]);
    assert.equal(reply.rcode, "NOERROR");
  }
  assert.equal(upstream.connectionsAccepted, 1);
  const ids = upstream.queries.map((query) => query.id);
  assert.equal(new Set(ids).size, ids.length, "upstream IDs never collide on a connection");
});

Deno.test("a reply with the wrong question is refused and the next upstream answers", async () => {
  await using liar = await startFakeDotServer({
    handler: (query) => answer(query, { name: "evil.example.test" }),
  });
  await using honest = await startFakeDotServer();
  await using proxy = startTestProxy({ upstreams: [liar, honest] });
  const reply = decode(await udpQuery(proxy.port, buildQuery("bank.example.test", "A")));
  assert.equal(reply.rcode, "NOERROR");
  assert.equal(reply.questions?.[0]?.name, "bank.example.test");
  assert.equal(reply.answers?.[0]?.name, "bank.example.test");
  assert.equal(liar.queries.length, 1);
  assert.equal(honest.queries.length, 1);
});

Deno.test("a reply with the wrong ID is ignored: the client gets SERVFAIL, never that reply", async () => {
  await using liar = await startFakeDotServer({
    handler: (query) => answer(query, { id: (query.id + 1) & 0xffff }),
  });
  await using proxy = startTestProxy({ upstreams: [liar], timeoutMs: 600 });
  const reply = decode(await udpQuery(proxy.port, buildQuery("id.example.test", "A")));
  assert.equal(reply.rcode, "SERVFAIL");
  assert.equal(reply.answers?.length, 0);
});

Deno.test("a dead first upstream fails over to the second", async () => {
  await using live = await startFakeDotServer();
  await using proxy = startTestProxy({ upstreams: [`127.0.0.1:${deadPort()}#dot.test`, live] });
  const reply = decode(await udpQuery(proxy.port, buildQuery("failover.example.test", "A")));
  assert.equal(reply.rcode, "NOERROR");
  assert.equal(proxy.upstreams[0]!.health.up, false, "the dead upstream is marked down");
  const again = decode(await udpQuery(proxy.port, buildQuery("again.example.test", "A")));
  assert.equal(again.rcode, "NOERROR");
  assert.equal(live.queries.length, 2);
});

Deno.test("a certificate for another name is refused: nothing is sent, SERVFAIL", async () => {
  await using upstream = await startFakeDotServer();
  await using proxy = startTestProxy({ upstreams: [`127.0.0.1:${upstream.port}#wrong.test`] });
  const reply = decode(await udpQuery(proxy.port, buildQuery("secret.example.test", "A")));
  assert.equal(reply.rcode, "SERVFAIL");
  assert.equal(upstream.queries.length, 0);
});

Deno.test("a certificate from an untrusted CA is refused: nothing is sent, SERVFAIL", async () => {
  await using upstream = await startFakeDotServer({
    certFile: testdataPath("tls", "other_server.pem"),
    keyFile: testdataPath("tls", "other_server.key"),
  });
  await using proxy = startTestProxy({ upstreams: [upstream] });
  const reply = decode(await udpQuery(proxy.port, buildQuery("secret.example.test", "A")));
  assert.equal(reply.rcode, "SERVFAIL");
  assert.equal(upstream.queries.length, 0);
});

Deno.test("an upstream authenticated by its IP address needs the IP in the certificate", async () => {
  await using upstream = await startFakeDotServer();
  await using proxy = startTestProxy({ upstreams: [`127.0.0.1:${upstream.port}`] });
  const reply = decode(await udpQuery(proxy.port, buildQuery("ip.example.test", "A")));
  assert.equal(reply.rcode, "NOERROR");
});

Deno.test("an upstream that never answers gives SERVFAIL at the deadline, with EDE 22", async () => {
  await using upstream = await startFakeDotServer({ handler: () => "ignore" });
  await using proxy = startTestProxy({ upstreams: [upstream], timeoutMs: 500 });
  const reply = decode(
    await udpQuery(proxy.port, buildQuery("slow.example.test", "A", { edns: {} }), {
      timeoutMs: 5000,
    }),
  );
  assert.equal(reply.rcode, "SERVFAIL");
  assert.equal(extendedErrorOf(reply), 22, "EDE 22 No Reachable Authority");
});

Deno.test("a connection the server closes before answering is replaced and the query resent", async () => {
  let first = true;
  await using upstream = await startFakeDotServer({
    handler: (query) => {
      if (first) {
        first = false;
        return "close";
      }
      return answer(query);
    },
  });
  await using proxy = startTestProxy({ upstreams: [upstream] });
  const reply = decode(await udpQuery(proxy.port, buildQuery("resend.example.test", "A")));
  assert.equal(reply.rcode, "NOERROR");
  assert.equal(upstream.connectionsAccepted, 2);
  assert.equal(proxy.upstreams[0]!.health.up, true, "a close is not a failure of the upstream");
});

Deno.test("connections are reused across queries and reopened after the idle timeout", async () => {
  await using upstream = await startFakeDotServer();
  await using proxy = startTestProxy({ upstreams: [upstream], upstreamIdleTimeoutMs: 150 });
  for (let i = 0; i < 5; i++) {
    decode(await udpQuery(proxy.port, buildQuery(`reuse${i}.example.test`, "A")));
  }
  assert.equal(upstream.connectionsAccepted, 1);
  await new Promise((resolve) => setTimeout(resolve, 400));
  assert.equal(proxy.upstreams[0]!.openConnections, 0, "idle connection closed");
  decode(await udpQuery(proxy.port, buildQuery("later.example.test", "A")));
  assert.equal(upstream.connectionsAccepted, 2);
});

Deno.test("an upstream that was down is used again once it is back, without a restart", async () => {
  const port = deadPort();
  await using proxy = startTestProxy({ upstreams: [`127.0.0.1:${port}#dot.test`] });
  const down = decode(await udpQuery(proxy.port, buildQuery("down.example.test", "A")));
  assert.equal(down.rcode, "SERVFAIL");
  await using _upstream = await startFakeDotServer({ port }); // back on the same port
  let reply;
  for (let i = 0; i < 100; i++) { // bounded: probes run every 0.25-5 s
    reply = decode(await udpQuery(proxy.port, buildQuery(`up${i}.example.test`, "A")));
    if (reply.rcode === "NOERROR") break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(reply?.rcode, "NOERROR");
  assert.equal(proxy.upstreams[0]!.health.up, true);
});

Deno.test("graceful shutdown answers the queries in flight before closing", async () => {
  await using upstream = await startFakeDotServer();
  const proxy = startTestProxy({ upstreams: [upstream] });
  const client = await TcpDnsClient.connect(proxy.port);
  await client.send(buildQuery("delay-300.inflight.example.test", "A", { id: 9 }));
  const udp = udpQuery(proxy.port, buildQuery("delay-300.udp.example.test", "A", { id: 10 }));
  while (upstream.queries.length < 2) await new Promise((resolve) => setTimeout(resolve, 10));
  const stopped = proxy.shutdown();
  assert.equal(decode(await client.receive()).id, 9);
  assert.equal(decode(await udp).id, 10);
  await stopped;
  await client.close();
  assert.equal(upstream.openConnections, 0, "upstream connections closed");
});

Deno.test("an upstream rejecting a client's odd question (FORMERR, no question) stays up", async () => {
  await using upstream = await startFakeDotServer({
    handler: (query) =>
      query.name.startsWith("odd")
        ? encode({ type: "response", id: query.id, flags: 1, questions: [] }) // FORMERR
        : answer(query),
  });
  await using proxy = startTestProxy({ upstreams: [upstream] });
  for (let i = 0; i < 3; i++) {
    const reply = decode(await udpQuery(proxy.port, buildQuery(`odd${i}.example.test`, "A")));
    assert.equal(reply.rcode, "SERVFAIL");
  }
  assert.equal(proxy.upstreams[0]!.health.up, true, "a client cannot take the upstream down");
  const normal = decode(await udpQuery(proxy.port, buildQuery("normal.example.test", "A")));
  assert.equal(normal.rcode, "NOERROR");
});
