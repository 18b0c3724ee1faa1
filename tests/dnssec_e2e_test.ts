/**
 * DNSSEC validation end to end: the real proxy (`--dnssec validate`, the test root's anchor from
 * `--trust-anchor-file`) in front of a real Unbound that does not validate, in front of NSD
 * serving a hierarchy signed with ldns-signzone (tests/_util/signed_hierarchy.ts). Answers are
 * decoded with dns-packet, independently of the proxy's own codec.
 */

import assert from "node:assert/strict";
import { type RunningProxy, startProxy } from "../src/proxy.ts";
import { parseUpstreamSpec } from "../src/upstream/upstream_spec.ts";
import { parseForwardZone } from "../src/config/routing.ts";
import { parseTrustAnchorFile } from "../src/config/dnssec.ts";
import { decode, type DecodedPacket, encode, FLAGS, udpQuery } from "./_util/dns_client.ts";
import { extendedErrorOf } from "./_util/records.ts";
import { TEST_CA } from "./_util/proxy_fixture.ts";
import { type SignedHierarchy, startSignedHierarchy } from "./_util/signed_hierarchy.ts";

function startValidatingProxy(
  hierarchy: SignedHierarchy,
  forwardZones: string[] = [],
  dnssecInsecure: string[] = [],
): RunningProxy {
  const upstream = `127.0.0.1:${hierarchy.unbound.dotPort}#dot.test`;
  return startProxy({
    listen: ["127.0.0.1"],
    port: 0,
    upstreams: [parseUpstreamSpec(upstream)],
    caCerts: [TEST_CA],
    timeoutMs: 4000,
    maxUdpSize: 1232,
    version: "0.0.0-test",
    dnssec: "validate",
    trustAnchorFile: parseTrustAnchorFile(hierarchy.anchorFile, "--trust-anchor-file", {
      readTextFile: Deno.readTextFileSync,
    }),
    forwardZones: forwardZones.map((zone) =>
      parseForwardZone(zone, "--forward-zone", { readTextFile: () => "" })
    ),
    dnssecInsecure,
  });
}

interface Ask {
  do?: boolean;
  cd?: boolean;
  ad?: boolean;
}

async function ask(
  proxy: RunningProxy,
  name: string,
  type: string,
  how: Ask = {},
): Promise<DecodedPacket> {
  const flags = FLAGS.RD | (how.cd ? FLAGS.CD : 0) | (how.ad ? FLAGS.AD : 0);
  const query = encode({
    type: "query",
    id: Math.floor(Math.random() * 0x10000),
    flags,
    questions: [{ name, type, class: "IN" }],
    additionals: [{
      type: "OPT",
      name: ".",
      udpPayloadSize: 1232,
      extendedRcode: 0,
      ednsVersion: 0,
      flags: how.do === false ? 0 : FLAGS.DO,
      flag_do: how.do !== false,
      options: [],
    }],
  });
  return decode(await udpQuery(proxy.port, query, { timeoutMs: 6000 }));
}

function types(records: DecodedPacket["answers"]): string[] {
  return records.map((record) => record.type);
}

function assertSecure(reply: DecodedPacket, rcode = "NOERROR"): void {
  assert.equal(reply.rcode, rcode);
  assert.equal(reply.flag_ad, true, "AD set on a secure answer");
}

function extendedErrorText(reply: DecodedPacket): string {
  const opt = reply.additionals.find((record) => record.type === "OPT") as
    | { options: { code: number; data?: Uint8Array }[] }
    | undefined;
  const data = opt?.options.find((option) => option.code === 15)?.data;
  return data ? new TextDecoder().decode(data.subarray(2)) : "";
}

function assertBogus(reply: DecodedPacket, ede: number): void {
  assert.equal(reply.rcode, "SERVFAIL");
  assert.equal(reply.flag_ad, false);
  assert.equal(extendedErrorOf(reply), ede);
}

Deno.test({
  name: "DNSSEC validation against a real signed hierarchy (NSD, ldns-signzone, Unbound)",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn(t) {
    await using hierarchy = await startSignedHierarchy();
    const corp = `corp.alg8.zz=127.0.0.1:${hierarchy.unbound.dotPort}#dot.test`;
    await using proxy = startValidatingProxy(hierarchy, [corp]);

    await t.step("a secure answer has AD and its RRSIG for a DO client", async () => {
      const reply = await ask(proxy, "www.alg8.zz", "A");
      assertSecure(reply);
      assert.deepEqual(types(reply.answers), ["A", "RRSIG"]);
      const again = await ask(proxy, "www.alg8.zz", "A");
      assertSecure(again); // from the cache, with its state
    });

    await t.step("DO=0 clients get no RRSIG; AD only when they set AD", async () => {
      const plain = await ask(proxy, "www.alg8.zz", "A", { do: false });
      assert.equal(plain.rcode, "NOERROR");
      assert.deepEqual(types(plain.answers), ["A"]);
      assert.equal(plain.flag_ad, false);
      const withAd = await ask(proxy, "www.alg8.zz", "A", { do: false, ad: true });
      assert.deepEqual(types(withAd.answers), ["A"]);
      assert.equal(withAd.flag_ad, true);
      const nx = await ask(proxy, "nothing.alg8.zz", "A", { do: false });
      assert.equal(nx.rcode, "NXDOMAIN");
      assert.deepEqual(types(nx.authorities), ["SOA"]);
    });

    await t.step("algorithms 8, 10, 13, 14 and 15 validate", async () => {
      for (const alg of [8, 10, 13, 14, 15]) {
        const reply = await ask(proxy, `www.alg${alg}.zz`, "A");
        assertSecure(reply);
        const rrsig = reply.answers.find((record) => record.type === "RRSIG");
        assert.equal((rrsig as { data: { algorithm: number } }).data.algorithm, alg);
      }
    });

    await t.step("an insecure delegation answers without AD", async () => {
      const reply = await ask(proxy, "www.insecure.zz", "A");
      assert.equal(reply.rcode, "NOERROR");
      assert.equal(reply.flag_ad, false);
      assert.deepEqual(types(reply.answers), ["A"]);
    });

    await t.step("bogus answers are SERVFAIL with the precise Extended DNS Error", async () => {
      assertBogus(await ask(proxy, "www.badsig.zz", "A"), 6);
      assertBogus(await ask(proxy, "www.expired.zz", "A"), 7);
      assertBogus(await ask(proxy, "www.nokey.zz", "A"), 9);
      assertBogus(await ask(proxy, "www.dsmismatch.zz", "A"), 9);
      assertBogus(await ask(proxy, "www.stripped.zz", "A"), 10);
      // Cached briefly, still bogus.
      assertBogus(await ask(proxy, "www.badsig.zz", "A"), 6);
    });

    await t.step("CD=1 gets the bogus answer unvalidated, without AD", async () => {
      const reply = await ask(proxy, "www.badsig.zz", "A", { cd: true });
      assert.equal(reply.rcode, "NOERROR");
      assert.equal(reply.flag_ad, false);
      assert.equal(reply.flag_cd, true);
      assert.deepEqual(types(reply.answers), ["A", "RRSIG"]);
    });

    await t.step("NXDOMAIN and NODATA are proven with NSEC", async () => {
      const nx = await ask(proxy, "nothing.alg8.zz", "A");
      assertSecure(nx, "NXDOMAIN");
      assert.ok(types(nx.authorities).includes("NSEC"));
      const nodata = await ask(proxy, "www.alg8.zz", "AAAA");
      assertSecure(nodata);
      assert.equal(nodata.answers.length, 0);
    });

    await t.step("NXDOMAIN and NODATA are proven with NSEC3", async () => {
      const nx = await ask(proxy, "nothing.alg13.zz", "A");
      assertSecure(nx, "NXDOMAIN");
      assert.ok(types(nx.authorities).includes("NSEC3"));
      const nodata = await ask(proxy, "www.alg13.zz", "AAAA");
      assertSecure(nodata);
      assert.equal(nodata.answers.length, 0);
    });

    await t.step("wildcard answers are secure with their NSEC or NSEC3 proof", async () => {
      const nsec = await ask(proxy, "anything.wild.alg8.zz", "A");
      assertSecure(nsec);
      assert.equal((nsec.answers[0] as { data: string }).data, "192.0.2.80");
      const nsec3 = await ask(proxy, "anything.wild.alg13.zz", "A");
      assertSecure(nsec3);
      assert.equal((nsec3.answers[0] as { data: string }).data, "192.0.2.130");
      assertSecure(await ask(proxy, "other.wild.alg8.zz", "AAAA")); // wildcard NODATA
    });

    await t.step("NSEC3 above 100 iterations makes denial insecure (RFC 9276)", async () => {
      const nx = await ask(proxy, "nothing.iter.zz", "A");
      assert.equal(nx.rcode, "NXDOMAIN");
      assert.equal(nx.flag_ad, false);
      assertSecure(await ask(proxy, "www.iter.zz", "A"));
    });

    await t.step("a forward zone under a signed parent is insecure, not bogus", async () => {
      const reply = await ask(proxy, "www.corp.alg8.zz", "A");
      assert.equal(reply.rcode, "NOERROR");
      assert.equal(reply.flag_ad, false);
      assert.equal((reply.answers[0] as { data: string }).data, "10.0.0.1");
      // The same data without the forward zone is bogus: the signed parent denies it.
      await using plain = startValidatingProxy(hierarchy);
      assert.equal((await ask(plain, "www.corp.alg8.zz", "A")).rcode, "SERVFAIL");
    });

    await t.step("zones declared insecure (RFC 7646) answer NOERROR without AD", async () => {
      await using lenient = startValidatingProxy(hierarchy, [], ["corp.alg8.zz", "badsig.zz"]);
      // A private zone the signed parent denies, reached without --forward-zone.
      const corp = await ask(lenient, "www.corp.alg8.zz", "A");
      assert.equal(corp.rcode, "NOERROR");
      assert.equal(corp.flag_ad, false);
      assert.equal((corp.answers[0] as { data: string }).data, "10.0.0.1");
      // A broken signed zone, while its owner fixes it: the data, unvalidated.
      const broken = await ask(lenient, "www.badsig.zz", "A");
      assert.equal(broken.rcode, "NOERROR");
      assert.equal(broken.flag_ad, false);
      assert.equal((broken.answers[0] as { data: string }).data, "192.0.2.21");
      assertSecure(await ask(lenient, "www.alg8.zz", "A")); // the rest is still validated
      assert.match(
        lenient.metrics.registry.render(),
        /dotproxy_dnssec_answers_total\{state="insecure"\} 2\b/,
      );
    });

    await t.step(
      "a KeyTrap zone is answered within the limits while others are served",
      async () => {
        const started = performance.now();
        const [trap, other] = await Promise.all([
          ask(proxy, "www.keytrap.zz", "A"),
          ask(proxy, "text.alg13.zz", "TXT"),
        ]);
        const ms = performance.now() - started;
        assertBogus(trap, 0);
        assert.match(extendedErrorText(trap), /work limit reached: maxKeysPerSignature/);
        assertSecure(other);
        const metrics = proxy.metrics.registry.render();
        assert.match(metrics, /dotproxy_dnssec_bogus_total\{reason="work-limit"\} [1-9]/);
        // Bounded work: 4 of 41 keys tried, never the 13 x 41 checks the zone asks for.
        assert.ok(ms < 4000, `answered before the query deadline (${ms.toFixed(1)} ms)`);
      },
    );

    await t.step("answers are counted by validation state", () => {
      const metrics = proxy.metrics.registry.render();
      for (const state of ["secure", "insecure", "bogus", "unchecked"]) {
        assert.match(
          metrics,
          new RegExp(`dotproxy_dnssec_answers_total\\{state="${state}"\\} [1-9]`),
        );
      }
      assert.match(metrics, /dotproxy_dnssec_bogus_total\{reason="signature-expired"\} [1-9]/);
    });
  },
});
