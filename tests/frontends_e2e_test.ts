// The proxy's client side through real sockets: UDP and TCP answers, the
// client's ID and letter case restored, EDNS treated hop by hop, truncation
// to the client's UDP size, and TCP pipelining with out-of-order answers.

import assert from "node:assert/strict";
import { answer, startFakeDotServer } from "./_util/fake_dot_server.ts";
import { buildQuery, decode, FLAGS, TcpDnsClient, udpQuery } from "./_util/dns_client.ts";
import { dataOf, optOf } from "./_util/records.ts";
import { startTestProxy } from "./_util/proxy_fixture.ts";

Deno.test("UDP: answer keeps the client's ID and letter case, no OPT without client OPT", async () => {
  await using upstream = await startFakeDotServer();
  await using proxy = startTestProxy({ upstreams: [upstream] });
  const reply = decode(
    await udpQuery(proxy.port, buildQuery("WwW.ExAmple.TEST", "A", { id: 4321, edns: false })),
  );
  assert.equal(reply.id, 4321);
  assert.equal(reply.rcode, "NOERROR");
  assert.equal(reply.questions?.[0]?.name, "WwW.ExAmple.TEST");
  assert.deepEqual(reply.answers.map(dataOf), ["192.0.2.1"]);
  assert.equal(optOf(reply), undefined);
  assert.equal(upstream.queries.length, 1);
});

Deno.test("TCP: answers come back framed on the same connection", async () => {
  await using upstream = await startFakeDotServer();
  await using proxy = startTestProxy({ upstreams: [upstream] });
  await using client = await TcpDnsClient.connect(proxy.port);
  await client.send(buildQuery("www.example.test", "AAAA", { id: 77 }));
  const reply = decode(await client.receive());
  assert.equal(reply.id, 77);
  assert.deepEqual(reply.answers.map(dataOf), ["2001:db8::1"]);
});

Deno.test("EDNS is hop by hop: client ECS and cookie stay here, padding stays upstream", async () => {
  await using upstream = await startFakeDotServer();
  await using proxy = startTestProxy({ upstreams: [upstream], maxUdpSize: 1400 });
  const query = buildQuery("edns.example.test", "A", {
    edns: {
      udpSize: 4096,
      do: true,
      options: [
        { code: 8, family: 1, sourcePrefixLength: 24, scopePrefixLength: 0, ip: "198.51.100.0" },
        { code: 10, data: new Uint8Array(8).fill(7) },
      ],
    },
  });
  const reply = decode(await udpQuery(proxy.port, query));
  const sent = upstream.queries[0]!;
  assert.equal(sent.raw.length % 128, 0, "query padded to a multiple of 128 (RFC 8467)");
  const upstreamOpt = optOf(sent.packet)!;
  assert.equal(upstreamOpt.flags & FLAGS.DO, FLAGS.DO, "DO copied");
  assert.deepEqual(upstreamOpt.options.map((option) => option.code), [12], "only padding");
  const clientOpt = optOf(reply)!;
  assert.equal(clientOpt.udpPayloadSize, 1400, "the proxy's own size, capped by --max-udp-size");
  assert.deepEqual(clientOpt.options, [], "no padding or cookies towards the client");
  assert.equal(clientOpt.flags & FLAGS.DO, FLAGS.DO);
});

Deno.test("UDP: an answer larger than the client's size comes back truncated, TCP gets it all", async () => {
  const txt = Array.from({ length: 8 }, (_, i) => `${i}`.padEnd(250, "x"));
  await using upstream = await startFakeDotServer({
    handler: (query) =>
      answer(query, {
        answers: txt.map((data) => ({ type: "TXT", name: query.name, ttl: 60, data })),
      }),
  });
  await using proxy = startTestProxy({ upstreams: [upstream] });

  const plain = await udpQuery(proxy.port, buildQuery("big.example.test", "TXT", { edns: false }));
  const truncated = decode(plain);
  assert.ok(truncated.flag_tc, "TC set");
  assert.equal(truncated.answers?.length, 0);
  assert.equal(truncated.questions?.[0]?.name, "big.example.test");
  assert.ok(plain.length <= 512);
  assert.equal(optOf(truncated), undefined);

  const withEdns = await udpQuery(
    proxy.port,
    buildQuery("big.example.test", "TXT", { edns: { udpSize: 4096 } }),
  );
  assert.ok(decode(withEdns).flag_tc, "4096 asked, but capped at 1232");
  assert.equal(optOf(decode(withEdns))?.udpPayloadSize, 1232);

  await using client = await TcpDnsClient.connect(proxy.port);
  await client.send(buildQuery("big.example.test", "TXT"));
  const full = decode(await client.receive());
  assert.equal(full.flag_tc, false);
  assert.equal(full.answers?.length, 8);
});

Deno.test("UDP: a small answer fits 512 octets without EDNS", async () => {
  await using upstream = await startFakeDotServer();
  await using proxy = startTestProxy({ upstreams: [upstream] });
  const reply = decode(
    await udpQuery(proxy.port, buildQuery("a.example.test", "A", { edns: false })),
  );
  assert.equal(reply.flag_tc, false);
  assert.equal(reply.answers?.length, 1);
});

Deno.test("TCP: pipelined queries are answered concurrently, in completion order", async () => {
  await using upstream = await startFakeDotServer();
  await using proxy = startTestProxy({ upstreams: [upstream] });
  await using client = await TcpDnsClient.connect(proxy.port);
  // The first query is the slowest: answering in order would put it first.
  const delays = [300, 150, 0];
  for (const [i, delay] of delays.entries()) {
    await client.send(buildQuery(`delay-${delay}.example.test`, "A", { id: 100 + i }));
  }
  const ids = [];
  for (let i = 0; i < delays.length; i++) ids.push(decode(await client.receive()).id);
  assert.deepEqual(ids, [102, 101, 100]);
});

Deno.test("TCP: a client that half-closes after its queries still gets every answer", async () => {
  await using upstream = await startFakeDotServer();
  await using proxy = startTestProxy({ upstreams: [upstream] });
  await using client = await TcpDnsClient.connect(proxy.port);
  for (let id = 1; id <= 3; id++) {
    await client.send(buildQuery(`delay-${100 * id}.example.test`, "A", { id }));
  }
  await (client.conn as Deno.TcpConn).closeWrite(); // FIN: no more queries, answers still wanted
  const ids = [];
  for (let i = 0; i < 3; i++) ids.push(decode(await client.receive()).id);
  assert.deepEqual(ids.sort(), [1, 2, 3]);
});

Deno.test("TCP: a client that stops mid-message is disconnected after the idle timeout", async () => {
  await using upstream = await startFakeDotServer();
  await using proxy = startTestProxy({ upstreams: [upstream], tcpIdleTimeoutMs: 200 });
  await using client = await TcpDnsClient.connect(proxy.port);
  await client.sendRaw(new Uint8Array([0, 40, 1, 2, 3])); // promises 40 octets, sends 3
  await assert.rejects(client.receive(5000), /closed|EOF|end/i);
});

Deno.test("TCP: a client that ends inside a message is closed cleanly, others unaffected", async () => {
  await using upstream = await startFakeDotServer();
  await using proxy = startTestProxy({ upstreams: [upstream] });
  const rude = await TcpDnsClient.connect(proxy.port);
  await rude.sendRaw(new Uint8Array([0]));
  await rude.close();
  const reply = decode(await udpQuery(proxy.port, buildQuery("still.example.test", "A")));
  assert.equal(reply.rcode, "NOERROR");
});
