// Split DNS through the real proxy with two real upstreams that count what
// they receive: a DoT one (the default, "public") and a plaintext UDP one
// (a resolver inside the trust boundary). Queries go by zone, longest match
// first, on label boundaries; private names never reach the public upstream;
// a plaintext upstream's lies are refused; policies spread or order the load.

import assert from "node:assert/strict";
import { answer, type defaultAnswer, startFakeDotServer } from "./_util/fake_dot_server.ts";
import { startFakePlainServer } from "./_util/fake_plain_server.ts";
import {
  buildQuery,
  decode,
  type DecodedPacket,
  TcpDnsClient,
  udpQuery,
} from "./_util/dns_client.ts";
import { dataOf, optOf } from "./_util/records.ts";
import { startTestProxy } from "./_util/proxy_fixture.ts";

async function ask(port: number, name: string, type = "A"): Promise<DecodedPacket> {
  return decode(await udpQuery(port, buildQuery(name, type)));
}

Deno.test("queries go to the longest matching zone, case-insensitively, on label boundaries", async () => {
  await using publicDot = await startFakeDotServer();
  await using euDot = await startFakeDotServer();
  await using corp = startFakePlainServer();
  await using proxy = startTestProxy({
    upstreams: [publicDot],
    forwardZones: [
      `corp.internal=udp://127.0.0.1:${corp.port}`,
      `eu.corp.internal=127.0.0.1:${euDot.port}#dot.test`,
    ],
  });
  assert.equal((await ask(proxy.port, "A.CORP.Internal")).rcode, "NOERROR");
  await ask(proxy.port, "corp.internal");
  await ask(proxy.port, "x.eu.corp.internal");
  await ask(proxy.port, "xcorp.internal");
  await ask(proxy.port, "corp.internal.example.test");
  assert.deepEqual(corp.queries.map((q) => q.name), ["A.CORP.Internal", "corp.internal"]);
  assert.deepEqual(euDot.queries.map((q) => q.name), ["x.eu.corp.internal"]);
  assert.deepEqual(publicDot.queries.map((q) => q.name), [
    "xcorp.internal",
    "corp.internal.example.test",
  ]);
});

Deno.test("private reverse names, localhost, .local, .invalid and .onion never reach the upstream", async () => {
  await using upstream = await startFakeDotServer();
  await using proxy = startTestProxy({ upstreams: [upstream] });
  for (
    const name of ["1.0.168.192.in-addr.arpa", "4.3.2.10.in-addr.arpa", "9.1.20.172.in-addr.arpa"]
  ) {
    const reply = await ask(proxy.port, name, "PTR");
    assert.equal(reply.rcode, "NXDOMAIN", name);
    assert.equal(reply.authorities[0]?.type, "SOA", `${name}: SOA for negative caching`);
  }
  for (
    const name of [
      "printer.local",
      "x.invalid",
      "abc.onion",
      "1.0.8.e.f.ip6.arpa",
      "1.0.0.c.f.ip6.arpa",
    ]
  ) {
    assert.equal((await ask(proxy.port, name)).rcode, "NXDOMAIN", name);
  }
  const localhost = await ask(proxy.port, "LocalHost");
  assert.deepEqual(localhost.answers.map(dataOf), ["127.0.0.1"]);
  assert.deepEqual((await ask(proxy.port, "app.localhost", "AAAA")).answers.map(dataOf), ["::1"]);
  assert.equal(upstream.queries.length, 0, "nothing leaked upstream");
  await ask(proxy.port, "1.0.16.172.example.test"); // not a private reverse zone: forwarded
  await ask(proxy.port, "1.0.32.172.in-addr.arpa", "PTR"); // 172.32/16 is public
  assert.equal(upstream.queries.length, 2);
});

Deno.test("--builtin-zones=false forwards them; an explicit forward zone wins over a built-in one", async () => {
  await using upstream = await startFakeDotServer();
  await using kubeDns = startFakePlainServer();
  await using off = startTestProxy({ upstreams: [upstream], builtinZones: false });
  await ask(off.port, "1.0.168.192.in-addr.arpa", "PTR");
  assert.equal(upstream.queries.length, 1);
  await using proxy = startTestProxy({
    upstreams: [upstream],
    forwardZones: [`10.in-addr.arpa=udp://127.0.0.1:${kubeDns.port}`],
  });
  await ask(proxy.port, "10.0.96.10.in-addr.arpa", "PTR");
  assert.deepEqual(kubeDns.queries.map((q) => q.name), ["10.0.96.10.in-addr.arpa"]);
  assert.equal((await ask(proxy.port, "1.1.168.192.in-addr.arpa", "PTR")).rcode, "NXDOMAIN");
  assert.equal(upstream.queries.length, 1, "192.168 is still answered locally");
});

Deno.test("a plaintext upstream's lies (wrong ID, wrong question) are refused", async () => {
  await using liar = startFakePlainServer({
    handler: (query) =>
      query.name.startsWith("id")
        ? answer(query, { id: (query.id + 1) & 0xffff })
        : answer(query, { name: "evil.corp.internal" }),
  });
  await using upstream = await startFakeDotServer();
  await using proxy = startTestProxy({
    upstreams: [upstream],
    forwardZones: [`corp.internal=udp://127.0.0.1:${liar.port}`],
    timeoutMs: 600,
  });
  for (const name of ["id.corp.internal", "question.corp.internal"]) {
    const reply = await ask(proxy.port, name);
    assert.equal(reply.rcode, "SERVFAIL", name);
    assert.equal(reply.answers.length, 0);
  }
});

Deno.test("plaintext upstreams get no padding, and a truncated UDP reply is retried over TCP", async () => {
  const txt = Array.from({ length: 8 }, (_, i) => `${i}`.padEnd(250, "x"));
  await using corp = startFakePlainServer({
    udpHandler: (query) => answer(query, { flags: 0x0200 | 0x0100 }), // TC, no records
    handler: (query) =>
      answer(query, {
        answers: txt.map((data) => ({ type: "TXT", name: query.name, ttl: 60, data })),
      }),
  });
  await using upstream = await startFakeDotServer();
  await using proxy = startTestProxy({
    upstreams: [upstream],
    forwardZones: [`corp.internal=udp://127.0.0.1:${corp.port}`],
  });
  const client = await askOverTcp(proxy.port, "big.corp.internal");
  assert.equal(client.answers.length, 8);
  assert.deepEqual(corp.queries.map((q) => q.transport), ["udp", "tcp"]);
  for (const query of corp.queries) {
    assert.deepEqual(optOf(query.packet)?.options ?? [], [], "no padding in plaintext");
  }
});

async function askOverTcp(port: number, name: string): Promise<DecodedPacket> {
  await using client = await TcpDnsClient.connect(port);
  await client.send(buildQuery(name, "TXT"));
  return decode(await client.receive());
}

Deno.test("upstream policies: sequential sticks to the first, round-robin spreads, fastest prefers the quick one", async () => {
  // The order policies do not look at time: a answers at once. For
  // `fastest`, a is made slower than anything a loaded CI machine adds to b
  // (a first TLS handshake, a JIT pause), so only a's three bootstrap
  // samples and the 5 % exploration reach it.
  let delayMs = 0;
  const slow = (query: Parameters<typeof defaultAnswer>[0]) =>
    new Promise<Uint8Array>((resolve) => setTimeout(() => resolve(answer(query)), delayMs));
  await using a = await startFakeDotServer({ handler: slow });
  await using b = await startFakeDotServer();
  const count = async (
    policy: "sequential" | "round-robin" | "fastest",
  ): Promise<[number, number]> => {
    const [before, beforeB] = [a.queries.length, b.queries.length];
    // Hedging off: a's answers near its own 95th percentile would also go to b.
    await using proxy = startTestProxy({ upstreams: [a, b], upstreamPolicy: policy, hedge: "off" });
    for (let i = 0; i < 40; i++) await ask(proxy.port, `${policy}${i}.example.test`);
    return [a.queries.length - before, b.queries.length - beforeB];
  };
  assert.deepEqual(await count("sequential"), [40, 0]);
  const [rrA, rrB] = await count("round-robin");
  assert.equal(rrA, 20);
  assert.equal(rrB, 20);
  delayMs = 200;
  const [fastA, fastB] = await count("fastest");
  // a: 3 samples + Binomial(37, 0.05) explored (mean 1.9); 13 or more
  // would need 10 explorations, about one run in 10^5.
  assert.ok(fastB > fastA * 2, `fastest: slow ${fastA}, fast ${fastB}`);
});
