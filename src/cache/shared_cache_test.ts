import assert from "node:assert/strict";
import { CacheEntry } from "./dns_cache.ts";
import { SharedCache } from "./shared_cache.ts";

/** A message of `size` octets with one answer record counted, its first octet `mark`. */
function entry(key: string, ttl: number, storedAt: number, size = 100, mark = 0): CacheEntry {
  const message = new Uint8Array(size);
  message[0] = mark;
  message[7] = 1; // ANCOUNT
  const answer = { message, questionEnd: 19, extendedRcode: 0, errors: [] };
  return new CacheEntry(key, answer, ttl, storedAt);
}

function cache(maxEntries: number, maxBytes: number, staleTtl = 0): SharedCache {
  return new SharedCache(SharedCache.allocate({ maxEntries, maxBytes, staleTtl }));
}

Deno.test("SharedCache returns what was stored, from every attachment of its buffer", () => {
  const first = cache(100, 65536);
  const second = new SharedCache(first.buffer, 2);
  const now = performance.now();
  const stored = entry("example.com.", 60, now, 120, 7);
  first.set(stored);
  const found = second.get("example.com.", now + 1)!;
  assert.deepEqual(found.message, stored.message);
  assert.equal(found.ttl, 60);
  assert.equal(found.questionEnd, 19);
  assert.ok(Math.abs(found.storedAt - now) < 1e-3);
  assert.equal(found.hits, 0);
  assert.equal(second.get("example.com.", now + 1)!.hits, 1);
  assert.equal(first.size, 1);
  assert.equal(second.get("other.", now), undefined);
});

Deno.test("SharedCache serves stale within the window and drops entries past it", () => {
  const shared = cache(100, 65536, 10);
  shared.set(entry("a", 1, 0));
  assert.ok(shared.get("a", 5000)); // expired 4 s ago, within the 10 s window
  assert.equal(shared.get("a", 5000)!.hits, 0); // a stale read is not a hit
  assert.equal(shared.get("a", 11_001), undefined);
  assert.equal(shared.size, 0);
  assert.equal(shared.bytes, 0);
});

Deno.test("SharedCache replaces an entry under the same key and keeps its accounting exact", () => {
  const shared = cache(100, 65536);
  shared.set(entry("a", 60, 0, 100, 1));
  const bytes = shared.bytes;
  shared.set(entry("a", 60, 0, 100, 2));
  assert.equal(shared.size, 1);
  assert.equal(shared.bytes, bytes);
  assert.equal(shared.get("a", 1)!.message[0], 2);
});

Deno.test("SharedCache holds at most its entries and its bytes, evicting the oldest first", () => {
  const few = cache(4, 65536);
  for (let i = 0; i < 10; i++) few.set(entry(`k${i}`, 60, 0));
  assert.equal(few.size, 4);
  assert.equal(few.evictions, 6);
  assert.equal(few.get("k5", 1), undefined);
  assert.ok(few.get("k9", 1));

  // 4096 octets of arena: about 22 records of 184 octets each.
  const small = cache(1000, 4096);
  for (let i = 0; i < 500; i++) small.set(entry(`key${i}`, 60, 0, 100, i & 0xff));
  assert.ok(small.bytes <= 4096, `bytes ${small.bytes}`);
  assert.ok(small.size > 10 && small.size < 30, `size ${small.size}`);
  assert.equal(small.get("key499", 1)!.message[0], 499 & 0xff);
  assert.equal(small.get("key0", 1), undefined);
});

Deno.test("SharedCache gives an entry hit since it was written a second chance", () => {
  const small = cache(1000, 4096);
  small.set(entry("popular", 60, 0));
  for (let i = 0; i < 500; i++) {
    small.set(entry(`flood${i}`, 60, 0));
    if (i % 10 === 0) assert.ok(small.get("popular", 1), `evicted after ${i}`);
  }
  assert.ok(small.get("popular", 1));
});

Deno.test("SharedCache keeps a failed refresh and the TTL offsets for every worker", () => {
  const first = cache(100, 65536);
  const second = new SharedCache(first.buffer, 2);
  first.set(entry("a", 60, 0));
  const hit = first.get("a", 1)!;
  hit.refreshFailedAt = 500;
  hit.offsets = [31];
  const seen = second.get("a", 2)!;
  assert.ok(Math.abs(seen.refreshFailedAt - 500) < 1e-3);
  assert.deepEqual(seen.offsets, [31]);
});

Deno.test("SharedCache matches a seeded random model under churn", () => {
  const shared = cache(64, 1 << 20);
  const model = new Map<string, number>();
  let seed = 12345;
  const random = () => (seed = Math.imul(seed, 1103515245) + 12345 >>> 0) / 2 ** 32;
  for (let step = 0; step < 5000; step++) {
    const key = `k${Math.floor(random() * 200)}`;
    if (random() < 0.5) {
      const mark = Math.floor(random() * 256);
      shared.set(entry(key, 60, 0, 40 + Math.floor(random() * 300), mark));
      model.set(key, mark);
    } else {
      const found = shared.get(key, 1);
      // The cache may have evicted it; what it returns must be the latest value stored.
      if (found !== undefined) assert.equal(found.message[0], model.get(key), key);
    }
  }
  assert.ok(shared.size <= 64);
});

Deno.test("SharedCache.recover() empties the shards a dead owner left locked", () => {
  const shared = cache(100, 65536);
  shared.set(entry("a", 60, 0));
  const words = new Int32Array(shared.buffer);
  // Shard 0's lock word, as a thread stopped inside a change would leave it.
  Atomics.store(words, 64 / 4, 9);
  assert.equal(shared.recover(9), 1);
  assert.equal(shared.size, 0);
  shared.set(entry("b", 60, 0));
  assert.ok(shared.get("b", 1));
});

Deno.test("SharedCache keeps each entry's DNSSEC state and its extended rcode for every worker", () => {
  const first = cache(100, 65536);
  const second = new SharedCache(first.buffer, 2);
  const now = performance.now();
  const states = [undefined, "secure", "insecure", "bogus", "indeterminate", "unchecked"] as const;
  for (const [i, security] of states.entries()) {
    const message = new Uint8Array(100);
    message[7] = 1;
    const answer = { message, questionEnd: 19, extendedRcode: 16 + i, errors: [], security };
    first.set(new CacheEntry(`name${i}.`, answer, 60, now));
  }
  for (const [i, security] of states.entries()) {
    const found = second.get(`name${i}.`, now + 1)!;
    assert.equal(found.security, security, `name${i}.`);
    assert.equal(found.extendedRcode, 16 + i);
  }
});

Deno.test("SharedCache.deleteWhere() drops the entries picked in every shard, for every attachment", () => {
  const first = cache(4096, 4 * 1024 * 1024); // several shards
  const second = new SharedCache(first.buffer, 2);
  const keys = Array.from({ length: 300 }, (_, i) => `name${i}.${i % 3 === 0 ? "corp" : "pub"}.`);
  for (const key of keys) first.set(entry(key, 3600, 0));
  assert.equal(first.size, 300);
  const corp = keys.filter((key) => key.endsWith(".corp."));
  assert.equal(second.deleteWhere((key) => key.endsWith(".corp.")), corp.length);
  assert.equal(first.size, 300 - corp.length);
  for (const key of keys) {
    assert.equal(first.get(key, 1) === undefined, key.endsWith(".corp."), key);
  }
  assert.equal(first.deleteWhere(() => true), 300 - corp.length);
  assert.deepEqual([first.size, first.bytes], [0, 0]);
});

Deno.test("SharedCache: an entry whose refresh never failed says so as -Infinity, not time 0", () => {
  // 0 read as "failed at the time origin": every expired entry served stale for 30 s after start.
  const shared = cache(100, 65536, 60);
  shared.set(entry("a", 1, 0));
  assert.equal(shared.get("a", 2000)!.refreshFailedAt, -Infinity);
});

Deno.test("SharedCache keeps how long a secure answer's validation holds, for every worker", () => {
  const first = cache(100, 65536);
  const second = new SharedCache(first.buffer, 2);
  const now = performance.now();
  for (const [i, secureFor] of [undefined, 0, 42, 2 ** 31 - 1].entries()) {
    const message = new Uint8Array(100);
    message[7] = 1;
    const answer = {
      message,
      questionEnd: 19,
      extendedRcode: 0,
      errors: [],
      security: "secure" as const,
      secureFor,
    };
    first.set(new CacheEntry(`name${i}.`, answer, 60, now));
    assert.equal(second.get(`name${i}.`, now + 1)!.secureFor, secureFor, `name${i}.`);
  }
});
