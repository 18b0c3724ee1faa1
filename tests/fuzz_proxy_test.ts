/**
 * Fuzzing the real proxy over real sockets: 100,000 random and mutated
 * messages (see _util/fuzz_messages.ts), sent in batches over UDP and
 * pipelined over TCP without waiting for answers. Afterwards the proxy must
 * still answer correctly, have logged no handler failure, hold nothing in
 * flight, and use about as much memory as before.
 *
 * The seed is fixed so that a failure reproduces; set DOTPROXY_FUZZ_SEED to
 * explore others. Inputs that ever broke the proxy are kept as fixtures in
 * tests/testdata/messages and replayed first.
 */

import assert from "node:assert/strict";
import v8 from "node:v8";
import vm from "node:vm";
// deno-lint-ignore no-import-prefix -- pinned here, not in deno.json: docs/development.md
import { configure, type LogRecord, reset } from "npm:@logtape/logtape@2.4.2";
import { BoundUdpClient, waitFor } from "./_util/abuse_clients.ts";
import { startAbuseProxy } from "./_util/abuse_fixture.ts";
import { buildQuery, decode, TcpDnsClient } from "./_util/dns_client.ts";
import { startFakeDotServer } from "./_util/fake_dot_server.ts";
import { baseQueries, fuzzMessage, Prng } from "./_util/fuzz_messages.ts";
import { dataOf } from "./_util/records.ts";
import { testdataPath } from "./_util/tools.ts";
import { skipName } from "../src/wire/name.ts";

const SEED = Number(Deno.env.get("DOTPROXY_FUZZ_SEED") ?? 0x5eed);
const UDP_MESSAGES = 80_000;
const TCP_MESSAGES = 20_000;
/** Datagrams sent before each barrier: few enough for the proxy's socket buffer (212992 octets). */
const UDP_BATCH = 100;
const TCP_CONNECTIONS = 40;
const MIB = 1024 * 1024;

/** Every committed hostile fixture, replayed before the random ones. */
function fixtures(): Uint8Array[] {
  const directory = testdataPath("messages");
  return [...Deno.readDirSync(directory)]
    .filter((entry) => entry.name.endsWith(".bin"))
    .map((entry) => Deno.readFileSync(`${directory}/${entry.name}`));
}

/**
 * Sends UDP messages in batches from a few sockets, counting the answers as
 * they come. After each batch an ANY query goes out as a barrier: the proxy
 * answers ANY in its receive loop, so its answer means that the whole batch
 * has been taken off the socket, and none was lost to a full buffer.
 */
async function fuzzUdp(port: number, messages: Iterator<Uint8Array>, count: number) {
  const clients = Array.from({ length: 4 }, () => new BoundUdpClient("127.0.0.1"));
  await using barrier = new BoundUdpClient("127.0.0.1");
  const ping = buildQuery("barrier.fuzz", "ANY", { id: 0xbeef });
  let answers = 0;
  let notResponses = 0;
  let sending = true;
  const drains = clients.map(async (client) => {
    while (sending) {
      const answer = await client.receive(50);
      if (answer === null) continue;
      answers++;
      if (answer.length < 12 || (answer[2]! & 0x80) === 0) notResponses++;
    }
  });
  try {
    for (let sent = 0; sent < count; sent += UDP_BATCH) {
      const batch: Promise<void>[] = [];
      for (let i = 0; i < UDP_BATCH; i++) {
        batch.push(clients[i % clients.length]!.send(port, messages.next().value!));
      }
      await Promise.all(batch);
      await barrier.query(port, ping, 5000);
    }
    await waitFor(() => false, 300); // let the last answers arrive
  } finally {
    sending = false;
    await Promise.all(drains);
    await Promise.all(clients.map((client) => client.close()));
  }
  return { answers, notResponses };
}

/** Pipelines TCP messages, now and then behind a bogus length prefix, and reads until EOF. */
async function fuzzTcp(port: number, prng: Prng, messages: Iterator<Uint8Array>) {
  const perConnection = TCP_MESSAGES / TCP_CONNECTIONS;
  let answers = 0;
  const connection = async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const frames: number[] = [];
    for (let i = 0; i < perConnection; i++) {
      const message = messages.next().value!;
      const length = prng.below(2000) === 0 ? prng.below(0x10000) : message.length;
      frames.push(length >> 8, length & 0xff, ...message);
    }
    const reading = (async () => {
      const buffer = new Uint8Array(65536);
      let pending = 0; // octets of the current answer still to come, prefix included
      let prefix = -1; // first prefix octet when the prefix was split
      for (;;) {
        const n = await conn.read(buffer).catch(() => null);
        if (n === null) return;
        for (let i = 0; i < n;) {
          if (pending > 0) {
            const take = Math.min(pending, n - i);
            pending -= take;
            i += take;
          } else if (prefix < 0) {
            prefix = buffer[i++]!;
          } else {
            pending = (prefix << 8) | buffer[i++]!;
            prefix = -1;
            answers++;
          }
        }
      }
    })();
    await conn.write(new Uint8Array(frames)).catch(() => 0); // the proxy may hang up first
    await conn.closeWrite().catch(() => {});
    await reading;
    conn.close();
  };
  for (let wave = 0; wave < TCP_CONNECTIONS; wave += 4) {
    await Promise.all([connection(), connection(), connection(), connection()]);
  }
  return { answers };
}

/**
 * Answers with the question exactly as received (dns-packet would decode and
 * re-encode it, changing names with odd octets, which the proxy rightly
 * refuses as a different question), and an address for A and AAAA.
 */
function echoAnswer(query: Uint8Array): Uint8Array {
  const questionEnd = skipName(query, 12) + 4;
  const qtype = (query[questionEnd - 4]! << 8) | query[questionEnd - 3]!;
  const rdata = qtype === 1
    ? [192, 0, 2, 1]
    : qtype === 28
    ? [0x20, 1, 0xd, 0xb8, ...Array(11).fill(0), 1]
    : [];
  const record = rdata.length === 0
    ? []
    : [0xc0, 12, 0, qtype, 0, 1, 0, 0, 1, 44, 0, rdata.length, ...rdata];
  const answer = new Uint8Array(questionEnd + record.length);
  answer.set(query.subarray(0, questionEnd));
  answer.set(
    [0x80 | (query[2]! & 0x01), 0x80, 0, 1, 0, record.length === 0 ? 0 : 1, 0, 0, 0, 0],
    2,
  );
  answer.set(record, questionEnd);
  return answer;
}

/**
 * Runs a full garbage collection, so that memory is compared without garbage:
 * the test task does not pass --expose-gc, but V8 takes the flag at run time.
 */
function collectGarbage(): void {
  v8.setFlagsFromString("--expose-gc");
  (vm.runInNewContext("gc") as () => void)();
}

async function assertHealthy(port: number, name: string): Promise<void> {
  await using udp = new BoundUdpClient("127.0.0.1");
  const viaUdp = decode(await udp.query(port, buildQuery(name, "A", { id: 1 })));
  assert.equal(dataOf(viaUdp.answers[0]!), "192.0.2.1");
  await using tcp = await TcpDnsClient.connect(port);
  await tcp.send(buildQuery(name, "AAAA", { id: 2 }));
  const viaTcp = decode(await tcp.receive());
  assert.equal(viaTcp.id, 2);
  assert.equal(dataOf(viaTcp.answers[0]!), "2001:db8::1");
}

Deno.test(`100,000 random and mutated messages (seed ${SEED}) leave the proxy healthy`, async () => {
  const errors: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { capture: (record: LogRecord) => errors.push(record) },
    loggers: [
      { category: ["dotproxy"], lowestLevel: "error", sinks: ["capture"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["capture"] },
    ],
  });
  try {
    await using upstream = await startFakeDotServer({ handler: (query) => echoAnswer(query.raw) });
    await using proxy = startAbuseProxy([upstream], { cacheSize: 1000 });
    await assertHealthy(proxy.port, "before.fuzz");
    collectGarbage();
    const before = Deno.memoryUsage();

    const prng = new Prng(SEED);
    const bases = baseQueries(prng);
    const replay = fixtures();
    const messages = (function* () {
      yield* replay;
      for (;;) yield fuzzMessage(prng, bases);
    })();
    const udp = await fuzzUdp(proxy.port, messages, UDP_MESSAGES);
    const tcp = await fuzzTcp(proxy.port, prng, messages);

    assert(await waitFor(() => proxy.admission.inFlight.count === 0, 10_000), "queries stuck");
    assert(proxy.upstreams[0]!.health.up, "no client message took the upstream down");
    await assertHealthy(proxy.port, "after.fuzz");
    upstream.queries.length = 0; // the fake upstream's own record of every query
    collectGarbage();
    const after = Deno.memoryUsage();
    const grown = {
      heapUsed: (after.heapUsed - before.heapUsed) / MIB,
      rss: (after.rss - before.rss) / MIB,
    };
    assert(udp.answers > UDP_MESSAGES / 2, `only ${udp.answers} UDP answers`);
    assert.equal(udp.notResponses, 0, "every UDP answer is a response");
    assert(tcp.answers > TCP_MESSAGES / 4, `only ${tcp.answers} TCP answers`);
    assert(grown.heapUsed < 64, `heap grew by ${grown.heapUsed.toFixed(1)} MiB`);
    // The heap after a full GC is what the proxy keeps: it must not have
    // grown. RSS also holds what the allocator keeps for reuse (a new malloc
    // arena alone is 64 MiB), so its bound only catches native memory kept
    // per message (100,000 messages × a 64 KiB buffer would be 6 GiB).
    assert(grown.rss < 256, `RSS grew by ${grown.rss.toFixed(1)} MiB`);
    assert.deepEqual(errors.map((record) => record.message.join("")), []);
  } finally {
    await reset();
  }
});
