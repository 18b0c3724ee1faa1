import assert from "node:assert/strict";
import { encode, type Packet } from "../../tests/_util/dns_client.ts";
import { parseMessage, walkRecords } from "../wire/message.ts";
import { readU32 } from "../wire/header.ts";
import { answerFromReply } from "../wire/responses.ts";
import { cacheLifetime, SERVFAIL_TTL } from "./cache_lifetime.ts";

const BOUNDS = { minTtl: 0, maxTtl: 86400 };
const SOA = {
  type: "SOA" as const,
  name: "example.test",
  ttl: 600,
  data: { mname: "ns.example.test", rname: "admin.example.test", minimum: 45 },
};

function lifetimeOf(packet: Packet, bounds = BOUNDS) {
  const bytes = encode({
    type: "response",
    id: 1,
    questions: [{ name: "a.example.test", type: "A" }],
    ...packet,
  });
  const answer = answerFromReply(bytes, parseMessage(bytes));
  return { lifetime: cacheLifetime(answer, bounds), answer };
}

/** The TTL of every record of a message, in order. */
function ttls(message: Uint8Array, questionEnd: number): number[] {
  const found: number[] = [];
  walkRecords(message, questionEnd, (record) => found.push(readU32(message, record.ttlOffset)));
  return found;
}

Deno.test("cacheLifetime() keeps a positive answer for its smallest TTL and caps the others", () => {
  const { lifetime, answer } = lifetimeOf({
    answers: [
      { type: "CNAME", name: "a.example.test", ttl: 300, data: "b.example.test" },
      { type: "A", name: "b.example.test", ttl: 60, data: "192.0.2.1" },
    ],
  });
  assert.equal(lifetime, 60);
  assert.deepEqual(ttls(answer.message, answer.questionEnd), [60, 60]);
});

Deno.test("cacheLifetime() caps every TTL of a negative answer at the time it is cached", () => {
  const { lifetime, answer } = lifetimeOf({
    flags: 3,
    authorities: [SOA, { type: "NS", name: "example.test", ttl: 3600, data: "ns.example.test" }],
  });
  assert.equal(lifetime, 45);
  assert.deepEqual(ttls(answer.message, answer.questionEnd), [45, 45]);
});

Deno.test("cacheLifetime() clamps TTLs into --cache-min-ttl and --cache-max-ttl", () => {
  const answers = [{ type: "A" as const, name: "a.example.test", ttl: 5, data: "192.0.2.1" }];
  assert.equal(lifetimeOf({ answers }, { minTtl: 30, maxTtl: 3600 }).lifetime, 30);
  const long = [{ ...answers[0]!, ttl: 999999 }];
  const capped = lifetimeOf({ answers: long }, { minTtl: 0, maxTtl: 3600 });
  assert.equal(capped.lifetime, 3600);
  assert.deepEqual(ttls(capped.answer.message, capped.answer.questionEnd), [3600]);
  const raised = lifetimeOf({ answers }, { minTtl: 30, maxTtl: 3600 });
  assert.deepEqual(ttls(raised.answer.message, raised.answer.questionEnd), [30]);
});

Deno.test("cacheLifetime() leaves an answer it will not cache untouched", () => {
  const answers = [{ type: "A" as const, name: "a.example.test", ttl: 5, data: "192.0.2.1" }];
  const refused = lifetimeOf({ flags: 5, answers }, { minTtl: 30, maxTtl: 3600 });
  assert.equal(refused.lifetime, null);
  assert.deepEqual(ttls(refused.answer.message, refused.answer.questionEnd), [5]);
});

Deno.test("cacheLifetime() caches NXDOMAIN and NODATA for min(SOA TTL, MINIMUM) (RFC 2308 §5)", () => {
  const nx = lifetimeOf({ flags: 3, authorities: [SOA] });
  assert.equal(nx.lifetime, 45);
  const nodata = lifetimeOf({ authorities: [SOA] });
  assert.equal(nodata.lifetime, 45);
});

Deno.test("cacheLifetime() refuses negative answers without a SOA, truncated, REFUSED and TTL 0", () => {
  assert.equal(lifetimeOf({ flags: 3 }).lifetime, null);
  assert.equal(lifetimeOf({}).lifetime, null);
  const a = [{ type: "A" as const, name: "a.example.test", ttl: 60, data: "192.0.2.1" }];
  assert.equal(lifetimeOf({ flags: 0x0200, answers: a }).lifetime, null);
  assert.equal(lifetimeOf({ flags: 5, answers: a }).lifetime, null);
  assert.equal(lifetimeOf({ answers: [{ ...a[0]!, ttl: 0 }] }).lifetime, null);
});

Deno.test("cacheLifetime() keeps an upstream SERVFAIL only briefly", () => {
  assert.equal(lifetimeOf({ flags: 2 }).lifetime, SERVFAIL_TTL);
});
