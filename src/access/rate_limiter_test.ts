import assert from "node:assert/strict";
import { RateLimiter } from "./rate_limiter.ts";

function clock() {
  const time = { now: 0 };
  return { time, now: () => time.now };
}

Deno.test("RateLimiter allows a burst, then the rate", () => {
  const { time, now } = clock();
  const limiter = new RateLimiter({ qps: 10, burst: 5, now });
  let allowed = 0;
  for (let i = 0; i < 20; i++) if (limiter.allow(1)) allowed++;
  assert.equal(allowed, 5);
  time.now += 1000; // one second refills 10 tokens, capped at the burst of 5
  allowed = 0;
  for (let i = 0; i < 20; i++) if (limiter.allow(1)) allowed++;
  assert.equal(allowed, 5);
  for (let step = 0; step < 10; step++) {
    time.now += 100; // one token per 100 ms
    assert(limiter.allow(1));
    assert(!limiter.allow(1));
  }
});

Deno.test("RateLimiter uses the rate as burst by default", () => {
  const { now } = clock();
  const limiter = new RateLimiter({ qps: 3, now });
  assert.deepEqual([1, 2, 3, 4].map(() => limiter.allow("a")), [true, true, true, false]);
});

Deno.test("RateLimiter keeps clients apart", () => {
  const { now } = clock();
  const limiter = new RateLimiter({ qps: 1, now });
  assert(limiter.allow(1));
  assert(!limiter.allow(1));
  assert(limiter.allow(2));
  assert(limiter.allow("2")); // an IPv6 key never collides with an IPv4 one
});

Deno.test("RateLimiter table never grows past its cap under a flood of new sources", () => {
  const { time, now } = clock();
  const limiter = new RateLimiter({ qps: 1, burst: 1, maxEntries: 1000, now });
  for (let source = 0; source < 100_000; source++) {
    limiter.allow(source);
    if (source % 1000 === 0) time.now += 1;
    assert(limiter.size <= 1000);
  }
  assert.equal(limiter.size, 1000);
});

Deno.test("RateLimiter sweeps full buckets before evicting limited clients", () => {
  const { time, now } = clock();
  const limiter = new RateLimiter({ qps: 1, burst: 1, maxEntries: 3, now });
  limiter.allow("quiet-1");
  limiter.allow("quiet-2");
  time.now += 2000; // both buckets are full again: the same as having none
  limiter.allow("busy");
  assert(!limiter.allow("busy"));
  limiter.allow("new-1"); // the table is full: the sweep drops the two full buckets
  assert.equal(limiter.size, 2);
  assert(!limiter.allow("busy"), "the busy client is still limited");
});

Deno.test("RateLimiter refuses a rate of zero", () => {
  assert.throws(() => new RateLimiter({ qps: 0 }), RangeError);
});
