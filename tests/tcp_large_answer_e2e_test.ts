// Answers near the 65,535-octet limit of a DNS message, asked over TCP by
// `kdig +tcp +edns`: the proxy's OPT record (and its Extended DNS Error, for
// a stale answer) would take the response past the limit, and TC=1 over TCP
// leaves the client nowhere to retry. The answer must come whole, without
// what does not fit.

import assert from "node:assert/strict";
import { answer, type ReceivedQuery, startFakeDotServer } from "./_util/fake_dot_server.ts";
import { decode, encode } from "./_util/dns_client.ts";
import { startTestProxy } from "./_util/proxy_fixture.ts";
import { requireTool } from "./_util/tools.ts";

/**
 * A TXT answer whose message, without its OPT record, is `size` octets: for
 * `plain.` names with no OPT record at all (the upstream's choice, RFC 6891
 * §7), for the others with the usual one (11 octets, no options).
 */
function answerOfSize(query: ReceivedQuery, size: number, ttl: number): Uint8Array {
  const build = (rdata: number) => {
    const strings = Array.from({ length: Math.floor(rdata / 256) }, () => "x".repeat(255));
    if (rdata % 256 > 0) strings.push("y".repeat((rdata % 256) - 1));
    const reply = answer(query, {
      answers: [{ type: "TXT", name: query.name, ttl, data: strings }],
    });
    if (!query.name.startsWith("plain.")) return reply;
    return encode({ ...decode(reply), additionals: [] });
  };
  const optLength = query.name.startsWith("plain.") ? 0 : 11;
  const probe = build(256);
  const reply = build(256 + size - (probe.length - optLength));
  assert.equal(reply.length - optLength, size);
  return reply;
}

async function kdig(port: number, name: string): Promise<string> {
  const command = requireTool("kdig");
  const { code, stdout, stderr } = await new Deno.Command(command, {
    args: ["@127.0.0.1", "-p", String(port), "+tcp", "+edns", "+timeout=5", name, "TXT"],
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  assert.equal(code, 0, text);
  return text;
}

/** kdig's report of one answer: its flags, status, and size in octets. */
function summary(out: string) {
  return {
    flags: /;; Flags: ([a-z ]*);/.exec(out)?.[1]?.trim().split(" ") ?? [],
    status: /status: ([A-Z]+)/.exec(out)?.[1],
    answers: Number(/ANSWER: (\d+);/.exec(out)?.[1]),
    octets: Number(/;; Received (\d+) B/.exec(out)?.[1]),
    ede: /;; EDE: (\d+)/.exec(out)?.[1],
  };
}

Deno.test("an answer of 65,530 octets without the upstream's OPT reaches an EDNS client over TCP whole, not TC=1", async () => {
  await using upstream = await startFakeDotServer({ handler: (q) => answerOfSize(q, 65_530, 60) });
  await using proxy = startTestProxy({ upstreams: [upstream] });
  const got = summary(await kdig(proxy.port, "plain.huge.test"));
  // The proxy's OPT record does not fit: the answer comes without it.
  assert.deepEqual(got, {
    flags: ["qr", "rd", "ra"],
    status: "NOERROR",
    answers: 1,
    octets: 65_530,
    ede: undefined,
  });
});

Deno.test("a stale answer of 65,520 octets reaches an EDNS client over TCP whole, without its EDE", async () => {
  const upstream = await startFakeDotServer({ handler: (q) => answerOfSize(q, 65_520, 1) });
  await using proxy = startTestProxy({ upstreams: [upstream] });
  try {
    assert.equal(summary(await kdig(proxy.port, "stale.huge.test")).octets, 65_520 + 11);
    await upstream.close();
    await new Promise((resolve) => setTimeout(resolve, 1100)); // expired; served stale
    const got = summary(await kdig(proxy.port, "stale.huge.test"));
    // OPT and EDE 3 (Stale Answer) make 65,537 octets: the EDE goes, the OPT stays.
    assert.deepEqual(got, {
      flags: ["qr", "rd", "ra"],
      status: "NOERROR",
      answers: 1,
      octets: 65_520 + 11,
      ede: undefined,
    });
  } finally {
    await upstream.close();
  }
});
