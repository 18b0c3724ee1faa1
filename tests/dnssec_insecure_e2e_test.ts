/**
 * Negative trust anchors end to end, with the root out of reach (a lab or a benchmark with no
 * internet, as in the shared bench harness): a real Unbound over DoT serving local data only,
 * where `. DNSKEY` has no answer, and the proxy validating from the built-in IANA root anchor.
 * Names under a special-use zone (`test.`) or a zone given with `--dnssec-insecure` answer
 * NOERROR without AD; any other name cannot be validated and is SERVFAIL.
 */

import assert from "node:assert/strict";
import { type RunningProxy, startProxy } from "../src/proxy.ts";
import { parseUpstreamSpec } from "../src/upstream/upstream_spec.ts";
import { decode, encode, FLAGS, udpQuery } from "./_util/dns_client.ts";
import { dataOf, extendedErrorOf } from "./_util/records.ts";
import { deadPort, TEST_CA } from "./_util/proxy_fixture.ts";
import { dotproxy, forwardingArgs, waitUntilAnswering } from "./_util/cli.ts";
import { startUnbound, type UnboundServer } from "./_util/unbound.ts";

/** Local data only: the root is a static local zone, so `. DNSKEY` is NXDOMAIN. */
const DATA = `  local-zone: "test." nodefault
  local-zone: "." static
  local-zone: "lab.test." static
  local-data: "lab.test. 300 IN SOA ns.lab.test. admin.lab.test. 1 3600 600 86400 60"
  local-data: "www.lab.test. 300 IN A 192.0.2.10"
  local-zone: "corp.example." static
  local-data: "corp.example. 300 IN SOA ns.corp.example. admin.corp.example. 1 3600 600 86400 60"
  local-data: "www.corp.example. 300 IN A 192.0.2.20"
  local-data: "www.other.example. 300 IN A 192.0.2.30"
`;

function startValidatingProxy(unbound: UnboundServer, dnssecInsecure: string[]): RunningProxy {
  return startProxy({
    listen: ["127.0.0.1"],
    port: 0,
    upstreams: [parseUpstreamSpec(`127.0.0.1:${unbound.dotPort}#${unbound.tlsName}`)],
    caCerts: [TEST_CA],
    timeoutMs: 4000,
    maxUdpSize: 1232,
    version: "0.0.0-test",
    dnssec: "validate",
    dnssecInsecure,
  });
}

async function ask(proxy: { port: number }, name: string) {
  const query = encode({
    type: "query",
    id: Math.floor(Math.random() * 0x10000),
    flags: FLAGS.RD | FLAGS.AD,
    questions: [{ name, type: "A", class: "IN" }],
    additionals: [{
      type: "OPT",
      name: ".",
      udpPayloadSize: 1232,
      extendedRcode: 0,
      ednsVersion: 0,
      flags: FLAGS.DO,
      flag_do: true,
      options: [],
    }],
  });
  return decode(await udpQuery(proxy.port, query, { timeoutMs: 6000 }));
}

Deno.test({
  name: "with the root out of reach, insecure-declared zones answer NOERROR without AD",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    await using unbound = await startUnbound({ data: DATA });
    await using proxy = startValidatingProxy(unbound, ["corp.example"]);

    // Built in under the IANA root anchor: test. is special-use (RFC 6761).
    const lab = await ask(proxy, "www.lab.test");
    assert.equal(lab.rcode, "NOERROR");
    assert.equal(lab.flag_ad, false);
    assert.equal(dataOf(lab.answers[0]!), "192.0.2.10");

    const corp = await ask(proxy, "www.corp.example");
    assert.equal(corp.rcode, "NOERROR");
    assert.equal(corp.flag_ad, false);
    assert.equal(dataOf(corp.answers[0]!), "192.0.2.20");
    assert.equal(extendedErrorOf(corp), undefined);

    // Negative answers too, from the cache the second time.
    for (let i = 0; i < 2; i++) {
      const nx = await ask(proxy, "nothing.corp.example");
      assert.equal(nx.rcode, "NXDOMAIN");
      assert.equal(nx.flag_ad, false);
    }

    // Not declared insecure: the root's keys cannot be fetched, so the answer cannot be trusted.
    const other = await ask(proxy, "www.other.example");
    assert.equal(other.rcode, "SERVFAIL");
    assert.equal(extendedErrorOf(other), 9);

    const metrics = proxy.metrics.registry.render();
    assert.match(metrics, /dotproxy_dnssec_answers_total\{state="insecure"\} 4\b/);
    assert.match(metrics, /dotproxy_dnssec_bogus_total\{reason="dnskey-missing"\} 1\b/);
  },
});

Deno.test({
  name: "--dnssec-insecure reaches every worker of the command (--workers 2)",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    await using unbound = await startUnbound({ data: DATA });
    const port = deadPort();
    const child = dotproxy([
      ...forwardingArgs(port, unbound.dotPort, unbound.caFile, unbound.tlsName),
      ...["--dnssec", "validate", "--dnssec-insecure", "corp.example", "--workers", "2"],
      ...["--log-level", "error"],
    ]).spawn();
    try {
      assert.ok(await waitUntilAnswering(port), "the proxy answers");
      // Each query from a new socket, so that SO_REUSEPORT spreads them over the workers.
      for (let i = 0; i < 6; i++) {
        const corp = await ask({ port }, `w${i}.corp.example`);
        assert.equal(corp.rcode, "NXDOMAIN");
        assert.equal(corp.flag_ad, false);
        const lab = await ask({ port }, "www.lab.test");
        assert.equal(lab.rcode, "NOERROR");
        assert.equal(lab.flag_ad, false);
        assert.equal((await ask({ port }, `w${i}.other.example`)).rcode, "SERVFAIL");
      }
    } finally {
      child.kill("SIGTERM");
      await child.output();
    }
  },
});
