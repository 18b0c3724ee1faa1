// Self-tests of the test infrastructure (tests/_util, tests/testdata/tls): if these fail, the
// end-to-end suites' failures say nothing about the proxy.

import assert from "node:assert/strict";
import { buildQuery, decode, TcpDnsClient, udpQuery } from "./_util/dns_client.ts";
import { answer, type Reply, startFakeDotServer } from "./_util/fake_dot_server.ts";
import { requireTool, testdataPath } from "./_util/tools.ts";
import { startUnbound, unboundConfig } from "./_util/unbound.ts";

const tls = (name: string) => testdataPath("tls", name);
const CA = await Deno.readTextFile(tls("ca.pem"));
const OTHER_CA = await Deno.readTextFile(tls("other_ca.pem"));

/** DoT client: TCP to 127.0.0.1:port, TLS verified against `caCerts` for `tlsName`. */
async function connectDot(
  port: number,
  options: { tlsName?: string; caCerts?: string[] } = {},
): Promise<TcpDnsClient> {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const conn = await Deno.startTls(tcp, {
      hostname: options.tlsName ?? "dot.test",
      caCerts: options.caCerts ?? [CA],
    });
    const client = new TcpDnsClient(conn);
    await conn.handshake().catch((error) => {
      client.close();
      throw error;
    });
    return client;
  } catch (error) {
    try {
      tcp.close();
    } catch {
      // startTls took ownership and already closed it
    }
    throw error;
  }
}

async function run(command: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(command, { args, stdin: "null" }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.ok(out.success, `${command} ${args.join(" ")} failed:\n${text}`);
  return text;
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("TLS fixtures: the server cert verifies for dot.test and its IP SAN only", async () => {
  await using server = await startFakeDotServer();
  for (const tlsName of ["dot.test", "127.0.0.1"]) {
    await using client = await connectDot(server.port, { tlsName });
    await client.send(buildQuery("x.test", "A"));
    assert.equal(decode(await client.receive()).rcode, "NOERROR");
  }
  await assert.rejects(connectDot(server.port, { tlsName: "wrong.test" }), /not valid for name/);
  await assert.rejects(connectDot(server.port, { caCerts: [OTHER_CA] }), /UnknownIssuer/);
  await waitFor(() => server.handshakeFailures === 2, "two failed handshakes");
  assert.equal(server.connectionsAccepted, 2);
});

Deno.test("TLS fixtures: a leaf from the other CA is an unknown issuer", async () => {
  await using server = await startFakeDotServer({
    certFile: tls("other_server.pem"),
    keyFile: tls("other_server.key"),
  });
  await assert.rejects(connectDot(server.port), /UnknownIssuer/);
  await using trusting = await connectDot(server.port, { caCerts: [OTHER_CA] });
  await trusting.send(buildQuery("x.test", "A"));
  assert.equal(decode(await trusting.receive()).rcode, "NOERROR");
});

Deno.test("TLS fixtures: valid for at least 50 more years", async () => {
  const openssl = requireTool("openssl");
  for (const file of ["ca.pem", "server.pem", "other_ca.pem", "other_server.pem"]) {
    await run(openssl, ["x509", "-in", tls(file), "-noout", "-checkend", String(50 * 365 * 86400)]);
  }
});

Deno.test("fake DoT server: default answers, EDNS echo, NXDOMAIN, connection index", async () => {
  await using server = await startFakeDotServer();
  await using client = await connectDot(server.port);
  await client.send(buildQuery("www.example.test", "A", { id: 4242, edns: { do: true } }));
  const a = decode(await client.receive());
  assert.equal(a.id, 4242);
  assert.ok(a.flag_qr && a.flag_ra && a.flag_rd);
  assert.deepEqual(a.answers, [
    { name: "www.example.test", type: "A", ttl: 300, class: "IN", flush: false, data: "192.0.2.1" },
  ]);
  const opt = a.additionals.find((rr) => rr.type === "OPT");
  assert.equal(opt?.udpPayloadSize, 1232);
  assert.equal(opt?.flag_do, true);

  await client.send(buildQuery("www.example.test", "AAAA", { edns: false, rd: false }));
  const aaaa = decode(await client.receive());
  assert.equal(aaaa.answers[0]?.data, "2001:db8::1");
  assert.equal(aaaa.flag_rd, false);
  assert.deepEqual(aaaa.additionals, [], "no OPT when the query had none");

  await client.send(buildQuery("foo.nx.test", "A"));
  const nx = decode(await client.receive());
  assert.equal(nx.rcode, "NXDOMAIN");
  const soa = nx.authorities[0];
  assert.ok(soa?.type === "SOA");
  assert.equal(soa.ttl, 60);
  assert.equal(soa.data.minimum, 30);

  assert.deepEqual(server.queries.map((q) => [q.name, q.type, q.connection]), [
    ["www.example.test", "A", 1],
    ["www.example.test", "AAAA", 1],
    ["foo.nx.test", "A", 1],
  ]);
  assert.equal(server.openConnections, 1);
});

Deno.test("fake DoT server: split and coalesced frames, out-of-order delayed replies", async () => {
  await using server = await startFakeDotServer();
  await using client = await connectDot(server.port);
  const q1 = buildQuery("delay-300.example.test", "A", { id: 1 });
  const q2 = buildQuery("fast.example.test", "A", { id: 2 });
  const frame = (m: Uint8Array) => new Uint8Array([m.length >> 8, m.length & 0xff, ...m]);
  const both = new Uint8Array([...frame(q1), ...frame(q2)]);
  // One byte, then the rest: the length prefix itself is split.
  await client.sendRaw(both.subarray(0, 1));
  await new Promise((resolve) => setTimeout(resolve, 50));
  await client.sendRaw(both.subarray(1));
  assert.equal(decode(await client.receive()).id, 2, "the undelayed reply overtakes");
  assert.equal(decode(await client.receive()).id, 1);
});

Deno.test("fake DoT server: custom handler with close, ignore and rewritten replies", async () => {
  await using server = await startFakeDotServer({
    handler: (query): Reply => {
      if (query.name.startsWith("fail.")) {
        return answer(query, { rcode: "SERVFAIL", id: query.id ^ 1, name: "other.test" });
      }
      return query.name.startsWith("close.") ? "close" : "ignore";
    },
  });
  await using client = await connectDot(server.port);
  await client.send(buildQuery("fail.example.test", "A", { id: 10 }));
  const fail = decode(await client.receive());
  assert.deepEqual([fail.id, fail.rcode, fail.questions[0]?.name], [11, "SERVFAIL", "other.test"]);
  await client.send(buildQuery("ignore.example.test", "A"));
  await assert.rejects(client.receive(200), /no DNS message within 200 ms/);

  await using second = await connectDot(server.port);
  await second.send(buildQuery("close.example.test", "A"));
  await assert.rejects(second.receive(), /EOF/);
  assert.equal(server.queries.at(-1)?.connection, 2);
  // The first client closed itself on its receive timeout, the second was closed by the server.
  await waitFor(() => server.openConnections === 0, "both connections to be counted closed");
});

Deno.test("fake DoT server: close() ends open connections and pending delays; port reusable", async () => {
  const server = await startFakeDotServer();
  const port = server.port;
  await using client = await connectDot(port);
  await client.send(buildQuery("delay-10000.example.test", "A"));
  await waitFor(() => server.queries.length === 1, "the delayed query to arrive");
  await server.close();
  await assert.rejects(client.receive(), /EOF|reset|closed/i);
  await using again = await startFakeDotServer({ port });
  await using client2 = await connectDot(again.port);
  await client2.send(buildQuery("b.test", "A"));
  assert.equal(decode(await client2.receive()).rcode, "NOERROR");
});

Deno.test("fake DoT server: close() does not wait for a handler that never settles", async () => {
  const server = await startFakeDotServer({ handler: () => new Promise<Reply>(() => {}) });
  await using client = await connectDot(server.port);
  await client.send(buildQuery("hang.example.test", "A"));
  await waitFor(() => server.queries.length === 1, "the query to arrive");
  await server.close();
  await assert.rejects(client.receive(), /EOF|reset|closed/i);
});

Deno.test("udpQuery rejects when nothing answers", async () => {
  const silent = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  try {
    const port = (silent.addr as Deno.NetAddr).port;
    const query = buildQuery("a.test", "A");
    await assert.rejects(udpQuery(port, query, { timeoutMs: 100 }), /no UDP reply/);
  } finally {
    silent.close(); // DatagramConn is not Disposable in Deno 2.9
  }
});

Deno.test("unbound upstream: DoT, plain UDP/TCP, local data, stats", async (t) => {
  const kdig = requireTool("kdig");
  const dig = requireTool("dig");
  const checkconf = requireTool("unbound-checkconf");
  await using unbound = await startUnbound();
  const port = String(unbound.plainPort);

  await t.step("its config passes unbound-checkconf", async () => {
    const dir = await Deno.makeTempDir();
    try {
      const conf = `${dir}/unbound.conf`;
      await Deno.writeTextFile(conf, unboundConfig({ dir, dotPort: 1, plainPort: 2 }));
      await run(checkconf, [conf]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  await t.step("kdig over DoT verifies dot.test and gets www.e2e.test", async () => {
    const out = await run(kdig, [
      "+tls",
      `+tls-ca=${unbound.caFile}`,
      `+tls-hostname=${unbound.tlsName}`,
      "+timeout=2",
      "+short",
      "-p",
      String(unbound.dotPort),
      "@127.0.0.1",
      "www.e2e.test",
      "A",
    ]);
    assert.equal(out.trim(), "192.0.2.10");
  });

  await t.step("dig +tcp gets all 8 TXT records of big.e2e.test", async () => {
    const out = await run(dig, [
      "+tcp",
      "+time=2",
      "+tries=1",
      "-p",
      port,
      "@127.0.0.1",
      "big.e2e.test",
      "TXT",
    ]);
    assert.match(out, /status: NOERROR/);
    assert.match(out, /ANSWER: 8,/);
  });

  await t.step("over UDP big.e2e.test is truncated; other names as documented", async () => {
    const big = decode(await udpQuery(unbound.plainPort, buildQuery("big.e2e.test", "TXT")));
    assert.ok(big.flag_tc, "TC set");
    const www = decode(await udpQuery(unbound.plainPort, buildQuery("www.e2e.test", "AAAA")));
    assert.equal(www.answers[0]?.data, "2001:db8::10");
    const u = decode(await udpQuery(unbound.plainPort, buildQuery("x1.u.e2e.test", "A")));
    assert.equal(u.answers[0]?.data, "192.0.2.1");
    const nx = decode(await udpQuery(unbound.plainPort, buildQuery("a.nx.e2e.test", "A")));
    assert.equal(nx.rcode, "NXDOMAIN");
    assert.equal(nx.authorities[0]?.type, "SOA");
    const nodata = decode(await udpQuery(unbound.plainPort, buildQuery("mixed.e2e.test", "AAAA")));
    assert.deepEqual([nodata.rcode, nodata.answers.length], ["NOERROR", 0]);
    const outside = decode(await udpQuery(unbound.plainPort, buildQuery("example.com", "A")));
    assert.equal(outside.rcode, "NXDOMAIN", "never recursion");
  });

  await t.step("TcpDnsClient over plain TCP and DoT via connectDot", async () => {
    await using tcp = await TcpDnsClient.connect(unbound.plainPort);
    await tcp.send(buildQuery("alias.e2e.test", "A", { id: 99 }));
    const alias = decode(await tcp.receive());
    assert.deepEqual([alias.id, alias.answers[0]?.type, alias.answers[0]?.data], [
      99,
      "CNAME",
      "www.e2e.test",
    ]);
    await using dot = await connectDot(unbound.dotPort);
    await dot.send(buildQuery("mixed.e2e.test", "A"));
    assert.equal(decode(await dot.receive()).answers[0]?.data, "192.0.2.11");
  });

  await t.step("stats() reads unbound's counters", async () => {
    const stats = await unbound.stats();
    assert.ok((stats["total.num.queries"] ?? 0) >= 9, JSON.stringify(stats));
    assert.ok((stats["num.query.tls"] ?? 0) >= 2);
  });
});
