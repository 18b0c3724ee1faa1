import assert from "node:assert/strict";
import { nameFromText } from "./names.ts";
import { parseTrustAnchors, TrustAnchors } from "./trust_anchors.ts";
import { trustAnchors } from "./dnssec_setup.ts";

Deno.test("parseTrustAnchors() reads DS and DNSKEY lines and skips the rest", () => {
  const anchors = parseTrustAnchors(`$TTL 3600
; a comment
corp.example. 3600 IN DS 12345 13 2 ( 0123456789abcdef0123456789abcdef
    0123456789abcdef0123456789abcdef )
corp.example. IN NS ns.corp.example.
lab. DNSKEY 257 3 15 g591dZQUqfNh8weWlNpEo4KgM5yHWp2GIHe/klkWSj4=
`);
  assert.equal(anchors.length, 2);
  assert.equal(anchors[0]!.ds[0]!.keyTag, 12345);
  assert.equal(anchors[0]!.ds[0]!.digest.length, 32);
  assert.equal(anchors[1]!.keys[0]!.algorithm, 15);
  assert.equal(anchors[1]!.keys[0]!.publicKey.length, 32);
});

Deno.test("parseTrustAnchors() names the line of a bad record", () => {
  assert.throws(() => parseTrustAnchors("\n\nx. DS 1 13 2 xyz"), /line 3: bad digest/);
  assert.throws(() => parseTrustAnchors("x. DS 70000 13 2 00"), SyntaxError);
});

Deno.test("TrustAnchors.closest() finds the nearest anchor at or above a name", () => {
  const anchors = new TrustAnchors(parseTrustAnchors("corp. DS 1 13 2 00\n. DS 2 8 2 00"));
  assert.equal(anchors.closest(nameFromText("a.corp"))!.ds[0]!.keyTag, 1);
  assert.equal(anchors.closest(nameFromText("a.org"))!.ds[0]!.keyTag, 2);
});

Deno.test("a root anchor from the file replaces the built-in root KSKs", () => {
  assert.deepEqual(trustAnchors([]).closest(nameFromText("a"))!.ds.map((d) => d.keyTag), [
    20326,
    38696,
  ]);
  const own = trustAnchors(parseTrustAnchors(". DS 7 13 2 00"));
  assert.deepEqual(own.closest(nameFromText("a"))!.ds.map((d) => d.keyTag), [7]);
});
