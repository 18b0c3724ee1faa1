import assert from "node:assert/strict";
import { dsDigest, keyTag, parseDnsKey } from "./keys.ts";
import { nameFromText } from "./names.ts";
import { parseTrustAnchors } from "./trust_anchors.ts";

// RFC 4034 §5.4 and RFC 4509 §2.3: dskey.example.com's key, tag 60485, and its SHA-256 DS.
const RFC_KEY = `dskey.example.com. 86400 IN DNSKEY 256 3 5 ( AQOeiiR0GOMYkDshWoSKz9Xz
  fwJr1AYtsmx3TGkJaNXVbfi/ 2pHm822aJ5iI9BMzNXxeYCmZ DRD99WYwYqUSdjMmmAphXdvx
  egXd/M5+X7OrzKBaMbCVdFLU Uh6DhweJBjEVv5f2wwjM9Xzc nOf+EPbtG9DMBmADjFDc2w/r
  ljwvFw== ) ;  key id = 60485`;
const RFC_DS = "D4B7D520E7BB5F0F67674A0CCEB1E3E0614B93C4F9E99B8383F6A1E4469DA50A";

Deno.test("keyTag() and dsDigest() match the RFC 4034 and RFC 4509 examples", async () => {
  const [anchor] = parseTrustAnchors(RFC_KEY);
  const key = anchor!.keys[0]!;
  assert.equal(key.keyTag, 60485);
  assert.equal(keyTag(key.rdata), 60485);
  const digest = await dsDigest(nameFromText("dskey.example.com"), key, 2);
  assert.equal(
    [...digest!].map((b) => b.toString(16).padStart(2, "0")).join("").toUpperCase(),
    RFC_DS,
  );
  assert.equal(await dsDigest(nameFromText("dskey.example.com"), key, 1), null);
});

Deno.test("parseDnsKey() refuses RDATA shorter than its fixed fields", () => {
  assert.equal(parseDnsKey(new Uint8Array([1, 1, 3])), null);
});
