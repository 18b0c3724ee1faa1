/**
 * Upstreams that lie or break the protocol. Whatever the first upstream
 * does, a client gets the right answer (from the honest second upstream) or
 * SERVFAIL, never the lie; with only the liar left, SERVFAIL; and once the
 * liar behaves, the proxy uses it again without a restart.
 *
 * Every misbehaviour runs at once, each with its own proxy, so that the
 * deadlines they wait out overlap instead of adding up.
 */

import assert from "node:assert/strict";
import { type Behaviour, HostileUpstream, LIE } from "./_util/abuse_hostile_upstream.ts";
import { startAbuseProxy } from "./_util/abuse_fixture.ts";
import { buildQuery, decode, TcpDnsClient, udpQuery } from "./_util/dns_client.ts";
import { startFakeDotServer } from "./_util/fake_dot_server.ts";
import { dataOf, extendedErrorOf } from "./_util/records.ts";

const BEHAVIOURS: readonly Behaviour[] = [
  "wrong-id",
  "wrong-question",
  "not-a-response",
  "garbage",
  "garbage-with-id",
  "short",
  "huge-prefix-close",
  "close-mid-message",
  "stall",
];

const LIE_OCTETS = LIE.split(".").map(Number);

/** Checks one answer: the right one, or SERVFAIL; anything else fails the test. */
function judge(bytes: Uint8Array, id: number, name: string, context: string): "right" | "servfail" {
  for (let i = 0; i + 4 <= bytes.length; i++) {
    const window = [...bytes.subarray(i, i + 4)];
    assert.notDeepEqual(window, LIE_OCTETS, `${context}: the lie reached the client`);
  }
  const packet = decode(bytes);
  assert.equal(packet.id, id, context);
  assert.equal(packet.questions[0]?.name, name, context);
  if (packet.rcode === "SERVFAIL") {
    assert.equal(packet.answers.length, 0, context);
    return "servfail";
  }
  assert.equal(packet.rcode, "NOERROR", context);
  assert.equal(packet.answers.length, 1, context);
  assert.equal(dataOf(packet.answers[0]!), "192.0.2.1", context);
  return "right";
}

/** Sends `count` queries over UDP and `count` pipelined over one TCP connection, at once. */
async function burst(port: number, label: string, count: number): Promise<string[]> {
  const names = Array.from({ length: count }, (_, i) => `q${i}.${label}.test`);
  const viaUdp = names.map(async (name, i) => {
    const answer = await udpQuery(port, buildQuery(name, "A", { id: i }), { timeoutMs: 8000 });
    return judge(answer, i, name, `${label} UDP`);
  });
  const viaTcp = (async () => {
    await using tcp = await TcpDnsClient.connect(port);
    for (const [i, name] of names.entries()) {
      await tcp.send(buildQuery(name, "A", { id: 1000 + i }));
    }
    const verdicts: string[] = [];
    for (let i = 0; i < count; i++) {
      const packet = await tcp.receive(8000);
      const id = decode(packet).id;
      verdicts.push(judge(packet, id, names[id - 1000]!, `${label} TCP`));
    }
    return verdicts;
  })();
  return [...await Promise.all(viaUdp), ...await viaTcp];
}

async function misbehave(behaviour: Behaviour): Promise<void> {
  await using liar = await HostileUpstream.start(behaviour);
  const honest = await startFakeDotServer();
  try {
    await using proxy = startAbuseProxy([liar, honest], { timeoutMs: 5000 });
    // 1. With an honest second upstream, every client gets the right answer.
    const first = await burst(proxy.port, `${behaviour}-a`, 8);
    assert.deepEqual(first.filter((v) => v !== "right"), [], `${behaviour}: ${first}`);
    assert(liar.queries > 0, `${behaviour}: the liar was asked`);
    // 2. With the liar alone, SERVFAIL (naming no reachable upstream), never the lie.
    await honest.close();
    const alone = await burst(proxy.port, `${behaviour}-b`, 4);
    assert.deepEqual(alone.filter((v) => v !== "servfail"), [], `${behaviour}: ${alone}`);
    // The liar, though marked down, is still asked (every upstream looks down),
    // so the answer may come at the deadline.
    const lone = await udpQuery(proxy.port, buildQuery(`lone.${behaviour}.test`, "A"), {
      timeoutMs: 8000,
    });
    assert.equal(extendedErrorOf(decode(lone)), 22, `${behaviour}: EDE No Reachable Authority`);
    // 3. Once it behaves, it is used again, without a restart.
    liar.behaviour = "honest";
    const deadline = Date.now() + 25_000;
    let last = "";
    for (let id = 0; last !== "right" && Date.now() < deadline; id++) {
      const name = `r${id}.${behaviour}.test`;
      const answer = await udpQuery(proxy.port, buildQuery(name, "A", { id }), { timeoutMs: 6000 });
      last = judge(answer, id, name, `${behaviour} recovery`);
      if (last !== "right") await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(last, "right", `${behaviour}: the proxy did not recover`);
    assert.deepEqual(await burst(proxy.port, `${behaviour}-c`, 4), Array(8).fill("right"));
  } finally {
    await honest.close();
  }
}

Deno.test("a lying or broken upstream never gets a wrong answer to a client", async () => {
  const outcomes = await Promise.allSettled(BEHAVIOURS.map(misbehave));
  const failures = outcomes.flatMap((outcome, i) =>
    outcome.status === "rejected" ? [`${BEHAVIOURS[i]}: ${outcome.reason}`] : []
  );
  assert.deepEqual(failures, []);
});
