import assert from "node:assert/strict";
import { trustAnchors } from "./dnssec_setup.ts";
import { nameFromText } from "./names.ts";
import { parseTrustAnchors } from "./trust_anchors.ts";

const CORP_ANCHOR = parseTrustAnchors(
  "island.corp.example. IN DS 1 13 2 00\ncorp.example. IN DS 2 13 2 00\n",
);
const PRIVATE_ROOT = parseTrustAnchors(". IN DS 3 13 2 00\n");

function insecureReason(anchors: ReturnType<typeof trustAnchors>, name: string) {
  return anchors.insecure(nameFromText(name))?.reason;
}

Deno.test("TrustAnchors.insecure() finds the closest negative anchor at or above a name", () => {
  const anchors = trustAnchors([], ["corp.example", "a.b.example"]);
  assert.match(insecureReason(anchors, "www.corp.example")!, /corp\.example is declared insecure/);
  assert.match(insecureReason(anchors, "CORP.example")!, /--dnssec-insecure/);
  assert.ok(insecureReason(anchors, "x.a.b.example"));
  assert.equal(insecureReason(anchors, "b.example"), undefined);
  assert.equal(insecureReason(anchors, "xcorp.example"), undefined);
  assert.equal(insecureReason(anchors, "example"), undefined);
});

Deno.test("TrustAnchors.insecure() yields to a trust anchor at or below the negative one", () => {
  const anchors = trustAnchors(CORP_ANCHOR.slice(0, 1), ["corp.example"]);
  assert.ok(insecureReason(anchors, "www.corp.example"));
  assert.equal(insecureReason(anchors, "www.island.corp.example"), undefined);
  const same = trustAnchors(CORP_ANCHOR.slice(1), ["corp.example"]);
  assert.equal(insecureReason(same, "www.corp.example"), undefined);
});

Deno.test("special-use zones are insecure under the IANA root, not under a private root", () => {
  const iana = trustAnchors([]);
  for (const name of ["www.bench.test", "nas.home.arpa", "x.alt", "printer.local", "a.internal"]) {
    assert.match(insecureReason(iana, name)!, /special-use/, name);
  }
  assert.ok(insecureReason(iana, "1.1.168.192.in-addr.arpa"));
  assert.equal(insecureReason(iana, "www.example.com"), undefined);
  assert.equal(insecureReason(iana, "example"), undefined);
  const lab = trustAnchors(PRIVATE_ROOT, ["corp.example"]);
  assert.equal(insecureReason(lab, "www.bench.test"), undefined);
  assert.ok(insecureReason(lab, "www.corp.example"));
});
