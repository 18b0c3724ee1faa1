// Malformed and unexpected messages get the answer the RFCs ask for, or are
// dropped, and the proxy keeps serving. The messages come from the committed
// fixtures in testdata/messages and from hand-made bytes.

import assert from "node:assert/strict";
import { startFakeDotServer } from "./_util/fake_dot_server.ts";
import { buildQuery, decode, TcpDnsClient, udpQuery } from "./_util/dns_client.ts";
import { optOf } from "./_util/records.ts";
import { startTestProxy } from "./_util/proxy_fixture.ts";

/** Header of a query with ID 0xabcd and RD, then the given counts. */
function header(qd: number, an = 0, ns = 0, ar = 0, flags = 0x0100): number[] {
  return [0xab, 0xcd, flags >> 8, flags & 0xff, 0, qd, 0, an, 0, ns, 0, ar];
}
const QUESTION = [1, 97, 4, 116, 101, 115, 116, 0, 0, 1, 0, 1]; // a.test IN A
const OPT = [0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0];

/**
 * Sends `junk` then a valid query from one socket: the first datagram back
 * must answer the valid query when the junk is meant to be dropped.
 */
async function sendThenQuery(port: number, junk: Uint8Array): Promise<Uint8Array> {
  const socket = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const target = { hostname: "127.0.0.1", port, transport: "udp" as const };
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    socket.close();
  }, 5000);
  try {
    await socket.send(junk, target);
    await socket.send(buildQuery("after.example.test", "A", { id: 0x1234 }), target);
    const [data] = await socket.receive();
    return data;
  } finally {
    clearTimeout(timer);
    if (!timedOut) socket.close();
  }
}

const dropped: [string, number[]][] = [
  ["an empty datagram", []],
  ["11 octets", header(1).slice(0, 11)],
  ["a response (QR=1)", [...header(1, 0, 0, 0, 0x8100), ...QUESTION]],
];
for (const [what, bytes] of dropped) {
  Deno.test(`UDP: ${what} is dropped and the next query is answered`, async () => {
    await using upstream = await startFakeDotServer();
    await using proxy = startTestProxy({ upstreams: [upstream] });
    const reply = decode(await sendThenQuery(proxy.port, new Uint8Array(bytes)));
    assert.equal(reply.id, 0x1234);
    assert.equal(upstream.queries.length, 1);
  });
}

const refused: [string, number[], string, boolean][] = [
  ["an UPDATE (opcode 5)", [...header(1, 0, 0, 0, 0x2800), ...QUESTION], "NOTIMP", true],
  ["no question", header(0), "FORMERR", false],
  ["two questions", [...header(2), ...QUESTION, ...QUESTION], "FORMERR", false],
  ["a truncated question", [...header(1), ...QUESTION.slice(0, 9)], "FORMERR", false],
  ["a forward compression pointer", [...header(1), 0xc0, 20, 0, 1, 0, 1], "FORMERR", false],
  ["a pointer loop", [...header(1), 0xc0, 12, 0, 1, 0, 1], "FORMERR", false],
  ["counts beyond the data", [...header(1, 3, 0, 0), ...QUESTION], "FORMERR", false],
  ["two OPT records", [...header(1, 0, 0, 2), ...QUESTION, ...OPT, ...OPT], "FORMERR", false],
];
for (const [what, bytes, rcode, withQuestion] of refused) {
  Deno.test(`UDP and TCP: ${what} gets ${rcode}, nothing goes upstream`, async () => {
    await using upstream = await startFakeDotServer();
    await using proxy = startTestProxy({ upstreams: [upstream] });
    const udp = decode(await udpQuery(proxy.port, new Uint8Array(bytes)));
    assert.equal(udp.id, 0xabcd);
    assert.equal(udp.rcode, rcode);
    assert.equal(udp.questions?.length, withQuestion ? 1 : 0);
    await using client = await TcpDnsClient.connect(proxy.port);
    await client.send(new Uint8Array(bytes));
    assert.equal(decode(await client.receive()).rcode, rcode);
    assert.equal(upstream.queries.length, 0);
  });
}

Deno.test("EDNS version 1 gets BADVERS with an OPT record", async () => {
  await using upstream = await startFakeDotServer();
  await using proxy = startTestProxy({ upstreams: [upstream] });
  const opt = [...OPT];
  opt[6] = 1; // VERSION
  const reply = await udpQuery(
    proxy.port,
    new Uint8Array([...header(1, 0, 0, 1), ...QUESTION, ...opt]),
  );
  assert.equal(reply[3]! & 0x0f, 0, "low bits of BADVERS (16)");
  const decoded = decode(reply);
  const replyOpt = optOf(decoded);
  assert.equal(replyOpt?.extendedRcode, 1, "high bits of BADVERS");
  assert.equal(upstream.queries.length, 0);
});

/** What the proxy must do with each committed fixture (see testdata/messages/README.md). */
const FIXTURES: Record<string, "drop" | "forward" | "BADVERS" | "FORMERR" | "NOTIMP"> = {
  "valid_query.bin": "forward",
  "empty.bin": "drop",
  "short_11.bin": "drop",
  "qr_set.bin": "drop",
  "header_only.bin": "FORMERR",
  "opcode_update.bin": "NOTIMP",
  "qdcount_2.bin": "FORMERR",
  "truncated_question.bin": "FORMERR",
  "count_beyond_data.bin": "FORMERR",
  "pointer_loop.bin": "FORMERR",
  "forward_pointer.bin": "FORMERR",
  "pointer_chain_200.bin": "FORMERR",
  "name_256_octets.bin": "FORMERR",
  "opt_twice.bin": "FORMERR",
  "edns_version_1.bin": "BADVERS",
};

Deno.test("each hostile fixture gets its answer or is dropped, and the proxy keeps serving", async () => {
  await using upstream = await startFakeDotServer();
  await using proxy = startTestProxy({ upstreams: [upstream] });
  const folder = new URL("./testdata/messages/", import.meta.url);
  const files = [];
  for await (const entry of Deno.readDir(folder)) {
    if (entry.name.endsWith(".bin")) files.push(entry.name);
  }
  assert.deepEqual(files.sort(), Object.keys(FIXTURES).sort(), "every fixture has an expectation");
  for (const [file, expected] of Object.entries(FIXTURES)) {
    const bytes = await Deno.readFile(new URL(file, folder));
    const first = await sendThenQuery(proxy.port, bytes);
    const reply = decode(first);
    if (expected === "drop") {
      assert.equal(reply.id, 0x1234, `${file}: dropped, so the next query is answered first`);
      continue;
    }
    assert.equal(reply.id, 0x1d0e, file);
    if (expected === "BADVERS") {
      assert.equal(first[3]! & 0x0f, 0, file);
      assert.equal(optOf(reply)?.extendedRcode, 1, file);
    } else {
      assert.equal(reply.rcode, expected === "forward" ? "NOERROR" : expected, file);
    }
  }
  const forwarded = upstream.queries.map((query) => query.name).filter((name) =>
    name !== "after.example.test"
  );
  assert.deepEqual(
    forwarded,
    ["example.com"],
    "of the fixtures, only the valid query went upstream",
  );
});
