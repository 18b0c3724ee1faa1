// The cache through the real proxy against a TLS upstream that counts what
// it receives: repeats answered locally until the TTL runs out, TTLs that
// count down, negative caching per RFC 2308, separate entries for DO and CD,
// the client's letter case, serve-stale per RFC 8767, coalescing, prefetch
// and the memory bound.

import assert from "node:assert/strict";
import {
  answer,
  defaultAnswer,
  type ReceivedQuery,
  startFakeDotServer,
} from "./_util/fake_dot_server.ts";
import { buildQuery, decode, type DecodedPacket, udpQuery } from "./_util/dns_client.ts";
import { extendedErrorOf, ttlOf } from "./_util/records.ts";
import { deadPort, startTestProxy } from "./_util/proxy_fixture.ts";
import { dotproxy, forwardingArgs, waitUntilAnswering } from "./_util/cli.ts";
import { testdataPath } from "./_util/tools.ts";
import { cacheKey } from "../src/cache/cache_key.ts";
import { CHUNK_SIZE } from "../src/cache/message_chunk.ts";
import { parseMessage } from "../src/wire/message.ts";

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** An A answer with the given TTL. */
function withTtl(ttl: number) {
  return (query: ReceivedQuery) =>
    answer(query, { answers: [{ type: "A", name: query.name, ttl, data: "192.0.2.7" }] });
}

async function ask(port: number, name: string, options = {}): Promise<DecodedPacket> {
  return decode(await udpQuery(port, buildQuery(name, "A", options)));
}

/** TTL of the first answer, or of the first authority record (negative answers). */
function firstTtl(packet: DecodedPacket): number | undefined {
  return ttlOf(packet.answers[0]) ?? ttlOf(packet.authorities[0]);
}

Deno.test("a repeated query reaches the upstream once until its TTL expires", async () => {
  await using upstream = await startFakeDotServer({ handler: withTtl(1) });
  await using proxy = startTestProxy({ upstreams: [upstream] });
  await ask(proxy.port, "once.example.test");
  const cached = await ask(proxy.port, "once.example.test");
  assert.equal(firstTtl(cached), 1);
  assert.equal(upstream.queries.length, 1);
  await sleep(1100);
  await ask(proxy.port, "once.example.test");
  assert.equal(upstream.queries.length, 2);
});

Deno.test("TTLs count down in answers from the cache, IDs and letter case are the client's", async () => {
  await using upstream = await startFakeDotServer({ handler: withTtl(300) });
  await using proxy = startTestProxy({ upstreams: [upstream] });
  const first = await ask(proxy.port, "CaSe.Example.TEST", { id: 1 });
  assert.equal(firstTtl(first), 300);
  await sleep(1100);
  const second = await ask(proxy.port, "case.example.test", { id: 2 });
  assert.equal(second.id, 2);
  assert.equal(second.questions[0]?.name, "case.example.test");
  assert.ok(firstTtl(second)! <= 299, `TTL ${firstTtl(second)}`);
  assert.equal(upstream.queries.length, 1);
});

Deno.test("NXDOMAIN with a SOA is cached for min(SOA TTL, MINIMUM); without a SOA it is not", async () => {
  await using upstream = await startFakeDotServer({
    handler: (query) => {
      if (query.name.startsWith("nosoa")) return answer(query, { rcode: "NXDOMAIN" });
      return answer(query, {
        rcode: query.name.startsWith("nodata") ? "NOERROR" : "NXDOMAIN",
        authorities: [{
          type: "SOA",
          name: "example.test",
          ttl: 60,
          data: { mname: "ns.example.test", rname: "admin.example.test", minimum: 20 },
        }],
      });
    },
  });
  await using proxy = startTestProxy({ upstreams: [upstream] });
  for (const name of ["missing.example.test", "nodata.example.test", "nosoa.example.test"]) {
    await ask(proxy.port, name);
    const again = await ask(proxy.port, name);
    if (!name.startsWith("nosoa")) assert.equal(firstTtl(again), 20, `${name}: negative TTL`);
  }
  const names = upstream.queries.map((query) => query.name);
  assert.deepEqual(names, [
    "missing.example.test",
    "nodata.example.test",
    "nosoa.example.test",
    "nosoa.example.test",
  ]);
});

Deno.test("DO and CD make separate cache entries", async () => {
  await using upstream = await startFakeDotServer();
  await using proxy = startTestProxy({ upstreams: [upstream] });
  await ask(proxy.port, "bits.example.test", { edns: { do: false } });
  await ask(proxy.port, "bits.example.test", { edns: { do: true } });
  await ask(proxy.port, "bits.example.test", { edns: { do: true } });
  const cd = buildQuery("bits.example.test", "A");
  cd[3] = cd[3]! | 0x10;
  await udpQuery(proxy.port, cd);
  assert.equal(upstream.queries.length, 3);
});

Deno.test("serve-stale: with the upstream gone an expired answer comes back with TTL 30 and EDE 3, fresh again once it returns", async () => {
  let upstream = await startFakeDotServer({ handler: withTtl(1) });
  const port = upstream.port;
  await using proxy = startTestProxy({ upstreams: [upstream] });
  try {
    await ask(proxy.port, "stale.example.test");
    await upstream.close();
    await sleep(1100);
    const stale = await ask(proxy.port, "stale.example.test", { edns: {} });
    assert.equal(stale.rcode, "NOERROR");
    assert.equal(firstTtl(stale), 30);
    assert.equal(extendedErrorOf(stale), 3, "EDE 3 Stale Answer");
    const plain = await ask(proxy.port, "stale.example.test", { edns: false });
    assert.equal(firstTtl(plain), 30, "stale without EDNS: no OPT, same TTL");

    upstream = await startFakeDotServer({ port, handler: withTtl(60) });
    let fresh: DecodedPacket | undefined;
    for (let i = 0; i < 100; i++) { // bounded: the probe and the background refresh take seconds
      fresh = await ask(proxy.port, "stale.example.test", { edns: {} });
      if (extendedErrorOf(fresh) === undefined) break;
      await sleep(100);
    }
    assert.equal(extendedErrorOf(fresh!), undefined, "fresh again");
    assert.ok(firstTtl(fresh!)! > 30);
  } finally {
    await upstream.close();
  }
});

for (const workers of [1, 2]) {
  Deno.test(`right after a start, an expired answer is refreshed, not served stale (--workers ${workers})`, async () => {
    // The failure-recheck timer (RFC 8767 §5) must not count a refresh that
    // never failed as one that failed at the process's time origin: a proxy
    // in its first 30 s answered every expired entry stale (TTL 30, EDE 3),
    // from its own cache or the one its workers share.
    await using upstream = await startFakeDotServer({ handler: withTtl(2) });
    const port = deadPort();
    const args = forwardingArgs(port, upstream.port, testdataPath("tls", "ca.pem"));
    const child = dotproxy([...args, "--workers", String(workers)]).spawn();
    try {
      assert(await waitUntilAnswering(port), "the proxy did not start");
      await ask(port, "short.example.test");
      await sleep(2100);
      const again = await ask(port, "short.example.test", { edns: {} });
      assert.equal(extendedErrorOf(again), undefined, "not EDE 3 Stale Answer");
      assert.equal(firstTtl(again), 2, "the upstream's fresh answer");
      const asked = upstream.queries.filter((query) => query.name === "short.example.test");
      assert.equal(asked.length, 2);
    } finally {
      child.kill("SIGTERM");
      await child.output();
    }
  });
}

Deno.test("500 identical concurrent queries make one upstream query", async () => {
  await using upstream = await startFakeDotServer({
    handler: async (query) => {
      await sleep(300);
      return defaultAnswer(query);
    },
  });
  await using proxy = startTestProxy({ upstreams: [upstream] });
  const replies = await Promise.all(
    Array.from(
      { length: 500 },
      (_, id) =>
        udpQuery(proxy.port, buildQuery("burst.example.test", "A", { id }), { timeoutMs: 5000 }),
    ),
  );
  for (const [id, bytes] of replies.entries()) {
    const reply = decode(bytes);
    assert.equal(reply.id, id);
    assert.equal(reply.answers.length, 1);
  }
  assert.equal(upstream.queries.length, 1);
});

Deno.test("a popular entry is prefetched before it expires", async () => {
  await using upstream = await startFakeDotServer({ handler: withTtl(2) });
  await using proxy = startTestProxy({ upstreams: [upstream] });
  await ask(proxy.port, "hot.example.test"); // stored at t=0, fresh until t=2 s
  await ask(proxy.port, "hot.example.test");
  await sleep(1850); // inside the last 10 % of the TTL
  await ask(proxy.port, "hot.example.test"); // a hit that triggers the prefetch
  for (let i = 0; i < 50 && upstream.queries.length < 2; i++) await sleep(20);
  assert.equal(upstream.queries.length, 2, "refreshed in the background");
  await sleep(300); // the first entry has expired by now
  const after = await ask(proxy.port, "hot.example.test");
  assert.equal(after.answers.length, 1);
  assert.equal(upstream.queries.length, 2, "served from the prefetched entry");
});

Deno.test("the cache stays within its entry and byte bounds under a stream of unique names", async () => {
  await using upstream = await startFakeDotServer();
  await using proxy = startTestProxy({ upstreams: [upstream], cacheSize: 100 });
  for (let i = 0; i < 300; i += 50) {
    await Promise.all(
      Array.from({ length: 50 }, (_, j) => ask(proxy.port, `u${i + j}.flood.example.test`)),
    );
  }
  assert.equal(proxy.cache!.size, 100);
  assert.equal(proxy.cache!.evictions, 200);

  // The answers share one chunk of the cache; 8192 bytes more leave room for about 20 entries.
  const bound = CHUNK_SIZE + 8192;
  await using small = startTestProxy({ upstreams: [upstream], cacheMaxBytes: bound });
  for (let i = 0; i < 100; i++) await ask(small.port, `b${i}.bytes.example.test`);
  assert.ok(small.cache!.bytes <= bound, `bytes ${small.cache!.bytes}`);
  assert.ok(small.cache!.size < 100 && small.cache!.size > 0, `size ${small.cache!.size}`);
});

Deno.test("a cached answer holds its own octets, not the upstream's OPT record and padding", async () => {
  // Like Unbound over TLS (RFC 8467), the upstream pads its answers to 468 octets.
  const padded = (query: ReceivedQuery) => {
    const reply = answer(query, {
      answers: [{ type: "A", name: query.name, ttl: 60, data: "192.0.2.7" }],
    });
    const padding = 468 - reply.length - 4;
    const out = new Uint8Array(468);
    out.set(reply);
    out.set([0, 12, padding >> 8, padding & 0xff], reply.length); // the OPT is the last record
    out[reply.length - 2] = (padding + 4) >> 8; // its RDLENGTH
    out[reply.length - 1] = (padding + 4) & 0xff;
    return out;
  };
  await using upstream = await startFakeDotServer({ handler: padded });
  await using proxy = startTestProxy({ upstreams: [upstream] });
  const query = buildQuery("padded.example.test", "A");
  const reply = decode(await udpQuery(proxy.port, query));
  assert.equal(reply.answers[0]?.data, "192.0.2.7");
  const key = cacheKey(query, parseMessage(query));
  const entry = proxy.cache!.get(key, performance.now());
  assert.ok(entry !== undefined, "the answer is cached");
  assert.ok(entry.message.length < 100, `message of ${entry.message.length} octets`);
  // A copy in one of the cache's chunks: the 468-octet reply is not kept alive by it.
  assert.equal(entry.message.buffer.byteLength, CHUNK_SIZE, "copied into a chunk of the cache");
});

Deno.test("an upstream SERVFAIL is cached briefly, a truncated answer is not cached", async () => {
  await using upstream = await startFakeDotServer({
    handler: (query) =>
      query.name.startsWith("tc")
        ? answer(query, { flags: 0x0200 | 0x0100 }) // TC + RD
        : answer(query, { rcode: "SERVFAIL" }),
  });
  await using proxy = startTestProxy({ upstreams: [upstream] });
  await ask(proxy.port, "fail.example.test");
  assert.equal((await ask(proxy.port, "fail.example.test")).rcode, "SERVFAIL");
  await ask(proxy.port, "tc.example.test");
  await ask(proxy.port, "tc.example.test");
  assert.deepEqual(upstream.queries.map((query) => query.name), [
    "fail.example.test",
    "tc.example.test",
    "tc.example.test",
  ]);
});

Deno.test("--cache-size 0 sends every query upstream", async () => {
  await using upstream = await startFakeDotServer();
  await using proxy = startTestProxy({ upstreams: [upstream], cacheSize: 0 });
  await ask(proxy.port, "nocache.example.test");
  await ask(proxy.port, "nocache.example.test");
  assert.equal(upstream.queries.length, 2);
  assert.equal(proxy.cache, null);
});
