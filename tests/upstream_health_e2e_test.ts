// Upstream health through the real proxy against fake upstreams on real
// sockets: a slow name does not take an upstream down while it answers
// others; a route whose every upstream looks down still forwards, and the
// first answer brings the upstream back; an upstream that refuses the health
// probe but answers queries is used; a flood of forged plaintext replies is
// dropped, counted, and harms neither the answers nor the upstream's health.

import assert from "node:assert/strict";
import {
  answer,
  defaultAnswer,
  type ReceivedQuery,
  startFakeDotServer,
} from "./_util/fake_dot_server.ts";
import { startFakePlainServer } from "./_util/fake_plain_server.ts";
import { buildQuery, decode, type DecodedPacket, encode, udpQuery } from "./_util/dns_client.ts";
import { dataOf } from "./_util/records.ts";
import { deadPort, startTestProxy } from "./_util/proxy_fixture.ts";
import { parsePrometheusText, valueOf } from "./_util/prometheus_text.ts";

async function ask(port: number, name: string): Promise<DecodedPacket> {
  return decode(await udpQuery(port, buildQuery(name, "A"), { timeoutMs: 5000 }));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The health probe, `. IN NS`. */
function isProbe(query: ReceivedQuery): boolean {
  return query.name === "." && query.type === "NS";
}

/** REFUSED without the question, as some internal resolvers answer the root. */
function refusedWithoutQuestion(query: ReceivedQuery): Uint8Array {
  return encode({ type: "response", id: query.id, flags: 0x8000 | 5, questions: [] });
}

Deno.test("names an upstream never answers do not take it down while it answers others", async () => {
  await using upstream = await startFakeDotServer({
    handler: (query) => query.name.startsWith("never") ? "ignore" : answer(query),
  });
  // Deadline 3 s: attempts of 2 s and 1 s, so the two slow queries time out
  // together twice, with no answer of theirs in between.
  await using proxy = startTestProxy({ upstreams: [upstream], timeoutMs: 3000 });
  const health = proxy.upstreams[0]!.health;
  const slow = [1, 2].map((i) => ask(proxy.port, `never${i}.example.test`));
  const ordinary: Promise<DecodedPacket>[] = [];
  let downSeen = 0;
  for (let i = 0; i < 36; i++) { // about 3.6 s, past both attempts of the slow queries
    ordinary.push(ask(proxy.port, `n${i}.example.test`));
    await sleep(100);
    if (!health.up) downSeen++;
  }
  const replies = await Promise.all(ordinary);
  const failed = replies.filter((reply) => reply.rcode !== "NOERROR").length;
  assert.equal(failed, 0, `${failed} of ${replies.length} ordinary queries failed`);
  assert.equal(downSeen, 0, "the upstream was never marked down");
  for (const reply of await Promise.all(slow)) assert.equal(reply.rcode, "SERVFAIL");
});

Deno.test("a route whose only upstream is marked down still forwards, and the first answer brings it back", async () => {
  // Probes are never answered, so only a real query can bring it back.
  await using upstream = await startFakeDotServer({
    handler: (query) => isProbe(query) || query.name.startsWith("never") ? "ignore" : answer(query),
  });
  await using proxy = startTestProxy({ upstreams: [upstream], timeoutMs: 3000 });
  const health = proxy.upstreams[0]!.health;
  // Alone on a silent connection, its two timed-out attempts mark the upstream down.
  assert.equal((await ask(proxy.port, "never.example.test")).rcode, "SERVFAIL");
  for (let i = 0; i < 20 && health.up; i++) await sleep(50);
  assert.equal(health.up, false, "marked down after two silent timeouts");
  const replies = await Promise.all([1, 2, 3].map((i) => ask(proxy.port, `ok${i}.example.test`)));
  assert.deepEqual(replies.map((reply) => reply.rcode), ["NOERROR", "NOERROR", "NOERROR"]);
  assert.equal(health.up, true, "the first answer marked it up");
});

Deno.test("after an outage ends, the very next query is answered", async () => {
  const port = deadPort();
  await using proxy = startTestProxy({ upstreams: [`127.0.0.1:${port}#dot.test`] });
  const health = proxy.upstreams[0]!.health;
  assert.equal((await ask(proxy.port, "during.example.test")).rcode, "SERVFAIL");
  assert.equal(health.up, false, "a refused connection marks it down");
  // Back on the same port, ignoring probes: only the query itself can tell.
  await using upstream = await startFakeDotServer({
    port,
    handler: (query) => isProbe(query) ? "ignore" : defaultAnswer(query),
  });
  const reply = await ask(proxy.port, "after.example.test");
  assert.equal(reply.rcode, "NOERROR");
  assert.equal(dataOf(reply.answers![0]!), "192.0.2.1");
  assert.equal(health.up, true);
  assert.deepEqual(upstream.queries.filter((q) => !isProbe(q)).map((q) => q.name), [
    "after.example.test",
  ]);
});

Deno.test("an upstream that refuses the probe but answers queries stays up", async () => {
  await using upstream = await startFakeDotServer({
    handler: (query) => isProbe(query) ? refusedWithoutQuestion(query) : answer(query),
  });
  await using proxy = startTestProxy({ upstreams: [upstream], http: true, idleProbeMs: 100 });
  const probes = () => upstream.queries.filter(isProbe).length;
  for (let i = 0; i < 60 && probes() < 4; i++) await sleep(50);
  assert.ok(probes() >= 4, `${probes()} probes refused`);
  assert.equal(proxy.upstreams[0]!.health.up, true);
  const metrics = parsePrometheusText(proxy.metrics.registry.render());
  assert.equal(valueOf(metrics, "dotproxy_upstream_failures_total"), 0, "a refusal is no failure");
  assert.equal((await ask(proxy.port, "used.example.test")).rcode, "NOERROR");
});

Deno.test("a down upstream that refuses the probe but answers queries is used again", async () => {
  const port = deadPort();
  await using second = await startFakeDotServer();
  await using proxy = startTestProxy({
    upstreams: [`127.0.0.1:${port}#dot.test`, second],
    upstreamPolicy: "sequential",
  });
  assert.equal((await ask(proxy.port, "failover.example.test")).rcode, "NOERROR");
  assert.equal(proxy.upstreams[0]!.health.up, false);
  await using first = await startFakeDotServer({
    port,
    handler: (query) => isProbe(query) ? refusedWithoutQuestion(query) : answer(query),
  });
  const used = () => first.queries.filter((query) => !isProbe(query)).length;
  for (let i = 0; i < 40 && used() === 0; i++) { // bounded: probes run every 0.25-5 s
    assert.equal((await ask(proxy.port, `back${i}.example.test`)).rcode, "NOERROR");
    await sleep(100);
  }
  assert.ok(first.queries.some(isProbe), "it was probed");
  assert.ok(used() > 0, "the first upstream answers queries again");
  assert.equal(proxy.upstreams[0]!.health.up, true);
});

Deno.test("a flood of forged plaintext replies is dropped and counted; answers and health unharmed", async () => {
  const QUERIES = 20;
  const ROUNDS = 10; // three forgeries a round
  const forger = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const poisoned = (query: ReceivedQuery, name = query.name) => ({
    answers: [{ type: "A" as const, name, ttl: 300, data: "203.0.113.66" }],
  });
  try {
    await using corp = startFakePlainServer({
      udpHandler: async (query, peer) => {
        for (let i = 0; i < ROUNDS; i++) {
          // Right source, wrong ID (an off-path guess).
          await peer.send(answer(query, { ...poisoned(query), id: (query.id + 1 + i) & 0xffff }));
          // Right ID, wrong source port.
          await forger.send(answer(query, poisoned(query)), peer.address);
          // Right source and ID, another question.
          const name = `forged${i}.corp.test`;
          await peer.send(answer(query, { ...poisoned(query, name), name }));
        }
        return defaultAnswer(query);
      },
    });
    await using dot = await startFakeDotServer();
    await using proxy = startTestProxy({
      upstreams: [dot],
      forwardZones: [`corp.test=udp://127.0.0.1:${corp.port}`],
    });
    const replies = await Promise.all(
      Array.from({ length: QUERIES }, (_, i) => ask(proxy.port, `host${i}.corp.test`)),
    );
    for (const [i, reply] of replies.entries()) {
      assert.equal(reply.rcode, "NOERROR");
      assert.equal(reply.answers?.length, 1);
      assert.equal(reply.answers![0]!.name, `host${i}.corp.test`);
      assert.equal(dataOf(reply.answers![0]!), "192.0.2.1");
    }
    const label = `udp://127.0.0.1:${corp.port}`;
    const plain = proxy.upstreams.find((upstream) => upstream.label === label)!;
    assert.equal(plain.health.up, true);
    const metrics = parsePrometheusText(proxy.metrics.registry.render());
    const forged = valueOf(metrics, "dotproxy_upstream_forged_replies_total", { to: label });
    assert.equal(forged, QUERIES * ROUNDS * 3, "every forgery dropped and counted");
    assert.equal(valueOf(metrics, "dotproxy_upstream_failures_total", { to: label }), 0);
    assert.equal(corp.queries.length, QUERIES, "each query sent once");
  } finally {
    forger.close();
  }
});
