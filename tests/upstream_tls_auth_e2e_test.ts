// Client certificates (mutual TLS) and SPKI key pins (RFC 7858 §4.2) against real TLS servers:
// a server that demands a client certificate answers with the right one and refuses none or a
// wrong one (the upstream is marked down with the reason, and nothing falls back to plaintext);
// a right pin answers and a wrong pin sends not one byte. The pins are computed by openssl.

import assert from "node:assert/strict";
import { startMtlsDotServer } from "./_util/mtls_dot_server.ts";
import { buildQuery, decode, udpQuery } from "./_util/dns_client.ts";
import { startTestProxy } from "./_util/proxy_fixture.ts";
import { requireTool, testdataPath } from "./_util/tools.ts";
import { parsePrometheusText, valueOf } from "./_util/prometheus_text.ts";
import { UpstreamError } from "../src/upstream/upstream_error.ts";
import { DotConnection } from "../src/upstream/dot_connection.ts";
import { parseUpstream } from "../src/config/parsers.ts";
import { exchange } from "../src/upstream/reply_listener.ts";
import { parseMessage } from "../src/wire/message.ts";
import { buildUpstreamFrame } from "../src/wire/upstream_query.ts";

const TLS = (name: string) => testdataPath("tls", name);
const CLIENT = `@client-cert=${TLS("client.pem")}@client-key=${TLS("client.key")}`;
const OTHER_CLIENT = `@client-cert=${TLS("other_client.pem")}@client-key=${
  TLS("other_client.key")
}`;

/** The SPKI pin of a PEM certificate, computed by openssl as the docs tell users to. */
async function opensslPin(certFile: string): Promise<string> {
  const openssl = requireTool("openssl");
  const script = `"${openssl}" x509 -in "$1" -pubkey -noout | "${openssl}" pkey -pubin ` +
    `-outform der | "${openssl}" dgst -sha256 -binary | "${openssl}" enc -base64`;
  const output = await new Deno.Command("sh", { args: ["-c", script, "sh", certFile] }).output();
  assert(output.success, new TextDecoder().decode(output.stderr));
  return new TextDecoder().decode(output.stdout).trim();
}

function pinMismatches(proxy: ReturnType<typeof startTestProxy>, to: string): number {
  const families = parsePrometheusText(proxy.metrics.registry.render());
  return valueOf(families, "dotproxy_upstream_pin_mismatches_total", { to });
}

Deno.test("a server demanding a client certificate answers when the right one is presented", async () => {
  await using server = await startMtlsDotServer({ requireClientCert: true });
  await using proxy = startTestProxy({ upstreams: [`127.0.0.1:${server.port}#dot.test${CLIENT}`] });
  const reply = decode(await udpQuery(proxy.port, buildQuery("mtls.example.test", "A")));
  assert.equal(reply.rcode, "NOERROR");
  assert.equal(reply.answers?.[0]?.data, "192.0.2.1");
  assert.deepEqual(server.queries, ["mtls.example.test"]);
  assert.deepEqual(server.refusals, []);
});

for (
  const [what, options, reason] of [
    ["without a client certificate", "", /requires a client certificate/],
    ["with a certificate from another CA", OTHER_CLIENT, /handshake failed/],
  ] as const
) {
  Deno.test(`a server demanding a client certificate refuses the proxy ${what}: upstream down, SERVFAIL`, async () => {
    await using server = await startMtlsDotServer({ requireClientCert: true });
    const spec = `127.0.0.1:${server.port}#dot.test${options}`;
    await using proxy = startTestProxy({ upstreams: [spec], timeoutMs: 1500 });
    const reply = decode(await udpQuery(proxy.port, buildQuery("refused.example.test", "A")));
    assert.equal(reply.rcode, "SERVFAIL");
    assert.deepEqual(server.queries, [], "the server answered nothing");
    assert.equal(server.connectionsAccepted, 0);
    assert(server.refusals.length >= 1, "the server refused the handshake");
    assert.equal(proxy.upstreams[0]!.health.up, false, "the upstream is marked down");
    // The connection's own error says why (what the health log line shows).
    const connection = await DotConnection.open({
      spec: parseUpstream(spec, "--upstream", { readTextFile: Deno.readTextFileSync }),
      caCerts: [Deno.readTextFileSync(TLS("ca.pem"))],
      connectTimeoutMs: 2000,
      idleTimeoutMs: 5000,
    });
    const query = buildQuery("why.example.test", "A");
    const layout = parseMessage(query);
    const failure = await exchange(connection, buildUpstreamFrame(query, layout), layout, 2000)
      .then(() => "answered", (error: unknown) => error);
    connection.close();
    await connection.done;
    assert(failure instanceof UpstreamError, String(failure));
    assert.equal(failure.reason, "tls");
    assert.match(failure.message, reason);
  });
}

Deno.test("a right key pin answers, with the name checked too", async () => {
  await using server = await startMtlsDotServer({ requireClientCert: false });
  const pin = await opensslPin(TLS("server.pem"));
  const other = await opensslPin(TLS("other_server.pem"));
  const spec = `127.0.0.1:${server.port}#dot.test@pin-sha256=${other}@pin-sha256=${pin}`;
  await using proxy = startTestProxy({ upstreams: [spec] });
  const reply = decode(await udpQuery(proxy.port, buildQuery("pinned.example.test", "A")));
  assert.equal(reply.rcode, "NOERROR");
  assert.deepEqual(server.queries, ["pinned.example.test"]);
  assert.equal(pinMismatches(proxy, `127.0.0.1:${server.port}#dot.test`), 0);
});

Deno.test("a wrong key pin sends nothing: closed before any query, counted, upstream down", async () => {
  await using server = await startMtlsDotServer({ requireClientCert: false });
  const wrong = await opensslPin(TLS("other_server.pem"));
  const label = `127.0.0.1:${server.port}#dot.test`;
  await using proxy = startTestProxy({
    upstreams: [`${label}@pin-sha256=${wrong}`],
    timeoutMs: 1500,
  });
  const reply = decode(await udpQuery(proxy.port, buildQuery("pinned.example.test", "A")));
  assert.equal(reply.rcode, "SERVFAIL");
  assert(server.connectionsAccepted >= 1, "the handshake took place");
  assert.equal(server.bytesReceived, 0, "not one byte of a query reached the server");
  assert(pinMismatches(proxy, label) >= 1);
  assert.equal(proxy.upstreams[0]!.health.up, false);
});

Deno.test("a right pin does not excuse a wrong name (strict profile: both must hold)", async () => {
  await using server = await startMtlsDotServer({ requireClientCert: false });
  const pin = await opensslPin(TLS("server.pem"));
  const spec = `127.0.0.1:${server.port}#wrong.test@pin-sha256=${pin}`;
  await using proxy = startTestProxy({ upstreams: [spec], timeoutMs: 1500 });
  const reply = decode(await udpQuery(proxy.port, buildQuery("pinned.example.test", "A")));
  assert.equal(reply.rcode, "SERVFAIL");
  assert.equal(server.bytesReceived, 0);
});

Deno.test("client certificate and pin together", async () => {
  await using server = await startMtlsDotServer({ requireClientCert: true });
  const pin = await opensslPin(TLS("server.pem"));
  const spec = `127.0.0.1:${server.port}#dot.test@pin-sha256=${pin}${CLIENT}`;
  await using proxy = startTestProxy({ upstreams: [spec] });
  const reply = decode(await udpQuery(proxy.port, buildQuery("both.example.test", "A")));
  assert.equal(reply.rcode, "NOERROR");
  assert.deepEqual(server.queries, ["both.example.test"]);
});
