// OpenTelemetry traces as an operator gets them: the proxy started as a
// subprocess with OTEL_DENO=true exports over OTLP/HTTP (JSON) to a real
// receiver started by the test; each client query is a span, each upstream
// attempt a child span under it, and query names appear only when the
// operator opts in with --trace-query-names.

import assert from "node:assert/strict";
import { startFakeDotServer } from "./_util/fake_dot_server.ts";
import { buildQuery, TcpDnsClient, udpQuery } from "./_util/dns_client.ts";
import { deadPort } from "./_util/proxy_fixture.ts";
import { testdataPath } from "./_util/tools.ts";
import { dotproxy, waitUntilAnswering } from "./_util/cli.ts";
import { type ReceivedSpan, startOtlpReceiver } from "./_util/otlp_receiver.ts";

const CA = testdataPath("tls", "ca.pem");
const SECRET = "secret-name.example.test";
const SERVER = 2;
const CLIENT = 3;
const ERROR = 2;

interface Run {
  spans: ReceivedSpan[];
  /** Every body the receiver got (traces, logs, metrics), as sent. */
  raw: string;
  live: string;
  dead: string;
}

/**
 * Runs the proxy with tracing on (a dead upstream first, then a live one),
 * sends it queries, stops it (Deno flushes its spans on exit) and returns
 * what the receiver got.
 */
async function tracedRun(extraArgs: string[]): Promise<Run> {
  await using receiver = startOtlpReceiver();
  await using upstream = await startFakeDotServer();
  const port = deadPort();
  const dead = `127.0.0.1:${deadPort()}#dot.test`;
  const live = `127.0.0.1:${upstream.port}#dot.test`;
  const child = dotproxy([
    ...["--port", String(port), "--ca-file", CA, "--upstream-policy", "sequential"],
    ...["--upstream", dead, "--upstream", live, ...extraArgs],
  ], {
    OTEL_DENO: "true",
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_SERVICE_NAME: "dotproxy-test",
    DOTPROXY_LOG_FORMAT: "json",
  }).spawn();
  try {
    assert.ok(await waitUntilAnswering(port), "the proxy answers");
    await udpQuery(port, buildQuery(SECRET, "AAAA")); // a miss
    await udpQuery(port, buildQuery(SECRET, "AAAA")); // a hit
    await using client = await TcpDnsClient.connect(port);
    await client.send(buildQuery(`tcp.${SECRET}`, "A"));
    await client.receive();
  } finally {
    child.kill("SIGTERM");
    const { code, stderr } = await child.output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
  }
  const spans = receiver.spans();
  return { spans, raw: receiver.bodies.map(({ body }) => body).join("\n"), live, dead };
}

/** The query spans of the proxy, and the children of each. */
function queries(spans: ReceivedSpan[]) {
  const mine = spans.filter((span) => span.scope === "dotproxy");
  return mine.filter((span) => span.name === "dns.query").map((query) => ({
    query,
    attempts: mine.filter((span) => span.parentSpanId === query.spanId),
  }));
}

Deno.test("OTLP: a span per query with a child per upstream attempt, and no query name", async () => {
  // One worker: the connection the first query opens is the one the others reuse.
  const { spans, raw, live, dead } = await tracedRun(["--workers", "1"]);
  const traced = queries(spans);
  for (const { query, attempts } of traced) {
    assert.equal(query.service, "dotproxy-test");
    assert.equal(query.kind, SERVER);
    assert.equal(query.parentSpanId, "", "a query span is a root");
    assert.equal(query.attributes["dns.response.code"], "NOERROR");
    for (const attempt of attempts) {
      assert.equal(attempt.name, "dns.upstream");
      assert.equal(attempt.kind, CLIENT);
      assert.equal(attempt.traceId, query.traceId);
    }
  }
  // Every upstream span is the child of a query span.
  const attempts = spans.filter((span) => span.name === "dns.upstream");
  assert.equal(attempts.length, traced.reduce((sum, { attempts }) => sum + attempts.length, 0));
  const of = (transport: string, qtype: string, cache: string) =>
    traced.filter(({ query }) =>
      query.attributes["network.transport"] === transport &&
      query.attributes["dns.question.type"] === qtype &&
      query.attributes["dotproxy.cache"] === cache
    );

  // The readiness queries (A): the first asked the dead upstream (connect refused), then the
  // live one on a new connection. A resent readiness query may have joined it in flight
  // (coalesced): a miss without attempts of its own.
  const ready = of("udp", "A", "miss").filter(({ attempts }) => attempts.length > 0);
  assert.equal(ready.length, 1, "one readiness query reached the upstreams");
  const [first, ...rest] = ready[0]!.attempts;
  assert.equal(first!.attributes["dotproxy.upstream"], dead);
  assert.equal(first!.attributes["error.type"], "connect");
  assert.equal(first!.statusCode, ERROR);
  assert.equal(rest.at(-1)!.attributes["dotproxy.upstream"], live);
  assert.equal(rest.at(-1)!.attributes["dotproxy.upstream.connection"], "new");

  // The AAAA query missed, then hit; the A over TCP missed. Both misses went to the live
  // upstream on the connection the first query opened.
  const [miss] = of("udp", "AAAA", "miss");
  const [hit] = of("udp", "AAAA", "hit");
  const [tcp] = of("tcp", "A", "miss");
  assert.ok(miss && hit && tcp, JSON.stringify(traced.map(({ query }) => query.attributes)));
  assert.deepEqual(hit.attempts, [], "a hit asks no upstream");
  assert.equal(hit.query.attributes["dotproxy.answer.source"], "cache");
  for (const { query, attempts } of [miss, tcp]) {
    assert.equal(query.attributes["dotproxy.answer.source"], "upstream");
    const last = attempts.at(-1)!;
    assert.equal(last.attributes["dotproxy.upstream"], live);
    assert.equal(last.attributes["dotproxy.upstream.connection"], "reused");
    assert.ok(Number(last.attributes["dotproxy.upstream.rtt_ms"]) > 0, "RTT");
    assert.notEqual(last.statusCode, ERROR);
  }

  // Not validating: no validation state.
  for (const { query } of traced) assert.equal(query.attributes["dotproxy.dnssec"], undefined);

  // Personal data: no name in any attribute, nor anywhere in what was exported.
  for (const span of spans) assert.equal(span.attributes["dns.question.name"], undefined);
  assert.ok(!raw.includes("secret-name"), "no query name was exported");
});

Deno.test("OTLP: --trace-query-names puts the query name on query spans", async () => {
  const { spans } = await tracedRun(["--trace-query-names", "--workers", "1"]);
  const names = queries(spans).map(({ query }) => query.attributes["dns.question.name"]);
  assert.ok(names.includes(`${SECRET}.`), String(names));
  assert.ok(names.every((name) => typeof name === "string" && name.endsWith(".")), String(names));
  // Upstream spans stay without it: the name is on the query's span only.
  for (const span of spans.filter((span) => span.name === "dns.upstream")) {
    assert.equal(span.attributes["dns.question.name"], undefined);
  }
});

Deno.test("OTLP: with --dnssec validate and two workers, query spans carry the validation state", async () => {
  // A private root: under the built-in IANA one, names under the special-use test. are insecure
  // (negative trust anchors, docs/dnssec.md), and these queries ask such names.
  const anchors = await Deno.makeTempFile({ prefix: "dotproxy-otel-", suffix: ".zone" });
  await Deno.writeTextFile(
    anchors,
    ". IN DS 56361 13 2 70d4d4c28418480de01ca13db1f186d1c5750f82dbf3de54cd7048f5f1b11b4b\n",
  );
  // Two workers (threads): each traces the queries it serves.
  const { spans } = await tracedRun([
    ...["--dnssec", "validate", "--trust-anchor-file", anchors, "--workers", "2"],
  ]).finally(() => Deno.remove(anchors));
  const traced = queries(spans);
  assert.ok(traced.length >= 4, `${traced.length} query spans`);
  // The fake upstream signs nothing under the root's trust anchor: every answer is bogus, and
  // its client gets SERVFAIL, which marks the span as an error.
  for (const { query } of traced) {
    assert.equal(query.attributes["dns.response.code"], "SERVFAIL");
    assert.equal(query.statusCode, ERROR);
  }
  const validated = traced.filter(({ query }) => query.attributes["dotproxy.cache"] === "miss");
  assert.ok(validated.length >= 2);
  for (const { query } of validated) {
    assert.equal(query.attributes["dotproxy.dnssec"], "bogus", JSON.stringify(query.attributes));
  }
});
