/**
 * Access list, rate limit, ANY over UDP and the in-flight cap, end to end:
 * the real proxy, a fake DoT upstream, and clients on several loopback
 * source addresses (127.0.0.1, .2, .3 are all local).
 */

import assert from "node:assert/strict";
import { parseCidr } from "../src/access/cidr.ts";
import { BoundUdpClient, NodeTcpDnsClient, waitFor } from "./_util/abuse_clients.ts";
import { startAbuseProxy } from "./_util/abuse_fixture.ts";
import { buildQuery, decode } from "./_util/dns_client.ts";
import { startFakeDotServer } from "./_util/fake_dot_server.ts";
import { dataOf } from "./_util/records.ts";

/** How long a test listens to make sure that no answer comes (a drop is also checked by counters). */
const SILENCE_MS = 300;

function assertAnswered(answer: Uint8Array, name: string): void {
  const packet = decode(answer);
  assert.equal(packet.rcode, "NOERROR");
  assert.equal(packet.questions[0]?.name, name);
  assert.equal(dataOf(packet.answers[0]!), "192.0.2.1");
}

Deno.test("a client outside --allow gets no UDP answer and REFUSED over TCP", async () => {
  await using upstream = await startFakeDotServer();
  await using proxy = startAbuseProxy([upstream], { allow: [parseCidr("127.0.0.1/32")] });
  await using allowed = new BoundUdpClient("127.0.0.1");
  await using denied = new BoundUdpClient("127.0.0.2");

  const query = buildQuery("denied.test", "A", { id: 1 });
  await denied.send(proxy.port, query);
  assert(await waitFor(() => proxy.admission.counters.denied === 1), "the drop is counted");
  assertAnswered(await allowed.query(proxy.port, buildQuery("ok.test", "A")), "ok.test");
  assert.equal(await denied.receive(SILENCE_MS), null, "no UDP answer to a denied client");
  assert.equal(upstream.queries.length, 1, "only the allowed query went upstream");

  await using tcp = await NodeTcpDnsClient.connect(proxy.port, "127.0.0.2");
  const tcpQuery = buildQuery("denied.test", "A", { id: 2 });
  tcp.send(tcpQuery);
  const refused = await tcp.receive();
  assert.equal(decode(refused).rcode, "REFUSED");
  assert.equal(decode(refused).id, 2);
  assert(refused.length <= tcpQuery.length, "REFUSED is never larger than the query");
  await tcp.closed; // the proxy hangs up after refusing
  assert.equal(proxy.admission.counters.denied, 2);
  assert.equal(upstream.queries.length, 1);
});

Deno.test("IPv4-mapped clients of a socket bound to :: are matched as IPv4", async () => {
  await using upstream = await startFakeDotServer();
  await using proxy = startAbuseProxy([upstream], {
    listen: ["::"],
    allow: [parseCidr("127.0.0.1/32")],
  });
  await using allowed = new BoundUdpClient("127.0.0.1");
  await using denied = new BoundUdpClient("127.0.0.2");
  assertAnswered(await allowed.query(proxy.port, buildQuery("mapped.test", "A")), "mapped.test");
  await denied.send(proxy.port, buildQuery("mapped.test", "A"));
  assert(await waitFor(() => proxy.admission.counters.denied === 1));
  assert.equal(await denied.receive(SILENCE_MS), null);
});

Deno.test("the default access list admits loopback clients", async () => {
  await using upstream = await startFakeDotServer();
  await using proxy = startAbuseProxy([upstream]);
  await using client = new BoundUdpClient("127.0.0.3");
  assertAnswered(await client.query(proxy.port, buildQuery("loop.test", "A")), "loop.test");
  await using tcp = await NodeTcpDnsClient.connect(proxy.port, "127.0.0.3");
  tcp.send(buildQuery("loop.test", "A", { id: 9 }));
  assertAnswered(await tcp.receive(), "loop.test");
  assert.equal(proxy.admission.counters.denied, 0);
});

Deno.test("--rate-limit drops a client's UDP excess and refuses its TCP excess", async () => {
  await using upstream = await startFakeDotServer();
  // 1 query per second with a burst of 3: a quick run of 10 queries gets 3
  // answers, plus one per second the run takes.
  await using proxy = startAbuseProxy([upstream], { rateLimit: 1, rateLimitBurst: 3 });
  await using greedy = new BoundUdpClient("127.0.0.2");
  await using other = new BoundUdpClient("127.0.0.3");
  const started = performance.now();
  for (let id = 0; id < 10; id++) {
    await greedy.send(proxy.port, buildQuery("greedy.test", "A", { id }));
  }
  const sentWithinS = (performance.now() - started) / 1000;
  let answered = 0;
  while (await greedy.receive(SILENCE_MS) !== null) answered++;
  assert(answered >= 3, `${answered} answered`);
  assert(answered <= 3 + Math.ceil(sentWithinS), `${answered} answered in ${sentWithinS} s`);
  assert(proxy.admission.counters.rateLimited >= 10 - answered);
  assertAnswered(await other.query(proxy.port, buildQuery("other.test", "A")), "other.test");

  await using tcp = await NodeTcpDnsClient.connect(proxy.port, "127.0.0.2");
  const rcodes: string[] = [];
  for (let id = 100; id < 104; id++) tcp.send(buildQuery("greedy.test", "A", { id }));
  for (let i = 0; i < 4; i++) rcodes.push(decode(await tcp.receive()).rcode);
  assert(rcodes.includes("REFUSED"), rcodes.join());
  assert(!tcp.ended, "a client over its rate keeps its TCP connection");
});

Deno.test("ANY over UDP gets TC=1 and no records; over TCP it is forwarded", async () => {
  await using upstream = await startFakeDotServer();
  await using proxy = startAbuseProxy([upstream]);
  await using client = new BoundUdpClient("127.0.0.1");
  const query = buildQuery("any.test", "ANY", { id: 77 });
  const answer = await client.query(proxy.port, query);
  const packet = decode(answer);
  assert.equal(packet.flag_tc, true);
  assert.equal(packet.answers.length + packet.authorities.length, 0);
  assert(answer.length <= query.length, "no amplification");
  assert.equal(upstream.queries.length, 0);
  assert.equal(proxy.admission.counters.anyTruncated, 1);

  await using tcp = await NodeTcpDnsClient.connect(proxy.port, "127.0.0.1");
  tcp.send(query);
  assert.equal(decode(await tcp.receive()).flag_tc, false);
  assert.equal(upstream.queries.length, 1);
});

Deno.test("--max-in-flight refuses queries beyond the cap at once, UDP and TCP", async () => {
  await using upstream = await startFakeDotServer();
  await using proxy = startAbuseProxy([upstream], { maxInFlight: 2, timeoutMs: 5000 });
  await using slow = new BoundUdpClient("127.0.0.1");
  await using fast = new BoundUdpClient("127.0.0.2");
  // Two queries the upstream holds for a while fill the two slots.
  await slow.send(proxy.port, buildQuery("delay-1500.one.test", "A", { id: 1 }));
  await slow.send(proxy.port, buildQuery("delay-1500.two.test", "A", { id: 2 }));
  assert(await waitFor(() => proxy.admission.inFlight.count === 2));
  const query = buildQuery("third.test", "A", { id: 3, edns: false });
  const refused = await fast.query(proxy.port, query);
  assert.equal(decode(refused).rcode, "REFUSED");
  assert(refused.length <= query.length);
  await using tcp = await NodeTcpDnsClient.connect(proxy.port, "127.0.0.2");
  tcp.send(buildQuery("fourth.test", "A", { id: 4 }));
  assert.equal(decode(await tcp.receive()).rcode, "REFUSED");
  assert.equal(proxy.admission.counters.overloaded, 2);
  // The slow ones still get their answers, and the slots come back.
  const late = [await slow.receive(5000), await slow.receive(5000)].map((answer) => {
    assert(answer !== null, "the slow queries are answered");
    return decode(answer).questions[0]?.name;
  });
  assert.deepEqual(late.sort(), ["delay-1500.one.test", "delay-1500.two.test"]);
  assert(await waitFor(() => proxy.admission.inFlight.count === 0));
  assertAnswered(await fast.query(proxy.port, buildQuery("after.test", "A")), "after.test");
});
