import assert from "node:assert/strict";
import { CacheEntry, DnsCache } from "./dns_cache.ts";

function entry(key: string, ttl: number, storedAt: number, size = 100): CacheEntry {
  const answer = { message: new Uint8Array(size), questionEnd: 19, extendedRcode: 0, errors: [] };
  return new CacheEntry(key, answer, ttl, storedAt);
}

Deno.test("DnsCache evicts the least recently used entry first", () => {
  const cache = new DnsCache({ maxEntries: 2, maxBytes: 1e6, staleTtl: 0 });
  cache.set(entry("a", 60, 0));
  cache.set(entry("b", 60, 0));
  assert.ok(cache.get("a", 1)); // a is now the most recently used
  cache.set(entry("c", 60, 0));
  assert.equal(cache.get("b", 1), undefined);
  assert.ok(cache.get("a", 1));
  assert.ok(cache.get("c", 1));
  assert.equal(cache.evictions, 1);
});

Deno.test("DnsCache keeps its byte accounting within the bound and exact after replacement", () => {
  const cache = new DnsCache({ maxEntries: 100, maxBytes: 2000, staleTtl: 0 });
  for (let i = 0; i < 50; i++) cache.set(entry(`k${i}`, 60, 0, 200));
  assert.ok(cache.bytes <= 2000);
  const before = cache.bytes;
  cache.set(entry("k49", 60, 0, 200));
  assert.equal(cache.bytes, before);
  // Each entry costs 200 + 6 (key) + 352 (overhead) = 558 bytes.
  assert.equal(cache.size, 3);
  assert.equal(before, 3 * 558);
});

Deno.test("DnsCache keeps expired entries for the stale window only", () => {
  const cache = new DnsCache({ maxEntries: 10, maxBytes: 1e6, staleTtl: 5 });
  cache.set(entry("x", 1, 0));
  assert.ok(cache.get("x", 3000), "expired, within the stale window");
  assert.equal(cache.get("x", 6001), undefined, "past the stale window");
  assert.equal(cache.size, 0);
  assert.equal(cache.bytes, 0);
});
