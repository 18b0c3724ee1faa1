import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { encode, FLAGS, type PacketRecord } from "../wire/test_packets_test.ts";
import type { ChainFetcher } from "./chain_of_trust.ts";
import { keyTag, parseDnsKey } from "./keys.ts";
import { type Name, namesEqual, ROOT } from "./names.ts";
import { TYPE } from "./records.ts";
import { decodeReply } from "./reply.ts";
import { signedData } from "./rrset_verify.ts";
import { TrustAnchors } from "./trust_anchors.ts";
import { Validator } from "./validator.ts";

const NOW_SECONDS = 1_700_000_000;
const ECDSA = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };

/** A root zone key (algorithm 13) that signs the test's records. */
async function rootKey() {
  const pair = await crypto.subtle.generateKey(ECDSA, false, ["sign", "verify"]) as CryptoKeyPair;
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  const publicKey = raw.subarray(1); // x || y, without the 0x04 prefix (RFC 6605 §4)
  const rdata = new Uint8Array([1, 1, 3, 13, ...publicKey]);
  const dnskey: PacketRecord = {
    name: ".",
    type: "DNSKEY",
    ttl: 3600,
    data: { flags: 257, algorithm: 13, key: Buffer.from(publicKey) },
  };
  return { privateKey: pair.privateKey, rdata, tag: keyTag(rdata), dnskey };
}

type RootKey = Awaited<ReturnType<typeof rootKey>>;

/**
 * A reply whose answer RRset (one type, one owner) is signed by the root key, valid until
 * `expiration`.
 */
async function signedReply(
  key: RootKey,
  question: { name: string; type: string },
  answers: PacketRecord[],
  expiration: number,
): Promise<Uint8Array> {
  const first = answers[0]!;
  const rrsig = (signature: Uint8Array): PacketRecord => ({
    name: first.name,
    type: "RRSIG",
    ttl: first.ttl ?? 0,
    data: {
      typeCovered: first.type,
      algorithm: 13,
      labels: first.name === "." ? 0 : first.name.split(".").length,
      originalTTL: first.ttl,
      expiration,
      inception: NOW_SECONDS - 3600,
      keyTag: key.tag,
      signersName: ".",
      signature: Buffer.from(signature),
    },
  });
  const message = (signature: Uint8Array) =>
    encode({
      id: 1,
      type: "response",
      flags: FLAGS.RD | FLAGS.RA,
      questions: [question],
      answers: [...answers, rrsig(signature)],
    });
  const unsigned = decodeReply(message(new Uint8Array(64)));
  const set = unsigned.answer.find((s) => s.rrsigs.length > 0)!;
  const data = signedData(set, set.rrsigs[0]!);
  const signature = await crypto.subtle.sign(ECDSA, key.privateKey, data.slice());
  return message(new Uint8Array(signature));
}

class RootFetcher implements ChainFetcher {
  constructor(readonly dnskeys: Uint8Array) {}
  fetch(name: Name, type: number): Promise<Uint8Array | null> {
    const known = namesEqual(name, ROOT) && type === TYPE.DNSKEY;
    return Promise.resolve(known ? this.dnskeys : null);
  }
}

Deno.test("Validator.validate() gives a secure answer the TTL its first signature expiry allows", async () => {
  const key = await rootKey();
  const dnskeys = await signedReply(
    key,
    { name: ".", type: "DNSKEY" },
    [key.dnskey],
    NOW_SECONDS + 86400,
  );
  const validator = new Validator({
    anchors: new TrustAnchors([{ zone: ROOT, ds: [], keys: [parseDnsKey(key.rdata)!] }]),
    fetcher: new RootFetcher(dnskeys),
    now: () => NOW_SECONDS * 1000,
  });
  const a: PacketRecord = { name: "www", type: "A", ttl: 3600, data: "192.0.2.1" };
  const question = { name: "www", type: "A" };
  const soon = await signedReply(key, question, [a], NOW_SECONDS + 120);
  assert.deepEqual(await validator.validate(soon), { state: "secure", ttl: 120 });
  const forged = soon.slice();
  const address = forged.findIndex((_, i) =>
    forged[i] === 192 && forged[i + 1] === 0 && forged[i + 2] === 2 && forged[i + 3] === 1
  );
  forged[address + 3] = 2;
  assert.equal((await validator.validate(forged)).state, "bogus", "the signature is checked");
  const later = await signedReply(key, question, [{ ...a, ttl: 300 }], NOW_SECONDS + 86400);
  assert.deepEqual(await validator.validate(later), { state: "secure", ttl: 300 });
});
