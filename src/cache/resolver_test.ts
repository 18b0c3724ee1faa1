import assert from "node:assert/strict";
import { parseMessage } from "../wire/message.ts";
import { answerFromReply } from "../wire/responses.ts";
import { decode, encode, FLAGS } from "../wire/test_packets_test.ts";
import type { Forwarded, Forwarder, ForwardListener } from "../upstream/forwarder.ts";
import type { UpstreamGroup } from "../upstream/upstream_group.ts";
import type { Router } from "../routing/router.ts";
import { ProxyMetrics } from "../observability/proxy_metrics.ts";
import { cacheKey } from "./cache_key.ts";
import { DnsCache } from "./dns_cache.ts";
import { type AnswerCheck, type Resolution, Resolver } from "./resolver.ts";

const QUESTION = { name: "www.example.com", type: "A" };
const QUERY = encode({ id: 1, type: "query", flags: FLAGS.RD, questions: [QUESTION] });
const REPLY = encode({
  id: 1,
  type: "response",
  flags: FLAGS.RD | FLAGS.RA,
  questions: [QUESTION],
  answers: [{ name: "www.example.com", type: "A", ttl: 3600, data: "192.0.2.1" }],
});

/** Answers the first query with {@linkcode REPLY}; every later one fails (no upstream answers). */
function onceForwarder(): Forwarder {
  let answered = false;
  const forwarder = {
    forward(_q: Uint8Array, _l: unknown, _g: unknown, _now: number, listener: ForwardListener) {
      if (answered) return listener.forwarded(null);
      answered = true;
      const reply = REPLY.slice();
      const forwarded = { reply, layout: parseMessage(reply), upstream: "test" };
      listener.forwarded(forwarded as unknown as Forwarded);
    },
  };
  return forwarder as unknown as Forwarder;
}

/** Validation that finds every answer secure for `secureFor` seconds. */
function secureFor(seconds: number): AnswerCheck {
  return {
    check: (_key, reply, layout) =>
      Promise.resolve({
        ...answerFromReply(reply, layout),
        security: "secure",
        secureFor: seconds,
      }),
  };
}

function resolver(check: AnswerCheck): { resolver: Resolver; cache: DnsCache } {
  const cache = new DnsCache({ maxEntries: 10, maxBytes: 65536, staleTtl: 86400 });
  const router = { route: () => ({ kind: "local" }) } as unknown as Router;
  const resolver = new Resolver({
    forwarder: onceForwarder(),
    router: () => router,
    metrics: new ProxyMetrics("test"),
    cache,
    bounds: { minTtl: 0, maxTtl: 86400 },
    check,
  });
  return { resolver, cache };
}

function resolve(resolver: Resolver, now: number): Promise<Resolution | null> {
  const layout = parseMessage(QUERY);
  const group = {} as UpstreamGroup;
  return new Promise((done, fail) =>
    resolver.resolve(QUERY, layout, cacheKey(QUERY, layout), group, now, {
      resolved: (resolution, error) => error === undefined ? done(resolution) : fail(error),
    })
  );
}

const KEY = cacheKey(QUERY, parseMessage(QUERY));

Deno.test("Resolver caches a secure answer no longer than its validation holds", async () => {
  const { resolver: subject, cache } = resolver(secureFor(10));
  const fresh = await resolve(subject, 1000);
  assert.equal(fresh?.source, "upstream");
  assert.equal(cache.get(KEY, 1000)?.ttl, 10, "the record's 3600 s capped by the signature");
  assert.equal(decode(fresh!.answer.message).answers[0]!.ttl, 10, "its record TTL too");
});

Deno.test("Resolver serves a stale secure answer past its validation as unchecked (AD=0)", async () => {
  const { resolver: subject } = resolver(secureFor(10));
  await resolve(subject, 1000);
  const stale = await resolve(subject, 1000 + 11_000);
  assert.equal(stale?.source, "stale");
  assert.equal(stale?.answer.security, "unchecked");
});

Deno.test("Resolver serves a stale secure answer as secure while its validation holds", async () => {
  const { resolver: subject, cache } = resolver(secureFor(100_000));
  await resolve(subject, 1000);
  const ttl = cache.get(KEY, 1000)!.ttl;
  assert.equal(ttl, 3600);
  const stale = await resolve(subject, 1000 + (ttl + 1) * 1000);
  assert.equal(stale?.source, "stale");
  assert.equal(stale?.answer.security, "secure");
});
