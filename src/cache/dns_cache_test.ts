import assert from "node:assert/strict";
import { CacheEntry, DnsCache } from "./dns_cache.ts";
import { CHUNK_SIZE, MAX_PACKED_LENGTH } from "./message_chunk.ts";

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
  const cache = new DnsCache({ maxEntries: 100, maxBytes: CHUNK_SIZE + 2000, staleTtl: 0 });
  for (let i = 0; i < 50; i++) cache.set(entry(`k${i}`, 60, 0, 200));
  assert.ok(cache.bytes <= CHUNK_SIZE + 2000);
  const before = cache.bytes;
  cache.set(entry("k49", 60, 0, 200));
  assert.equal(cache.bytes, before);
  // The messages share one chunk; each entry costs 6 (key) + 352 (overhead) = 358 bytes besides.
  assert.equal(cache.size, 5);
  assert.equal(before, CHUNK_SIZE + 5 * 358);
});

Deno.test("DnsCache copies short messages into shared chunks, each counted while it holds an entry", () => {
  const cache = new DnsCache({ maxEntries: 20, maxBytes: 1e9, staleTtl: 0 });
  // 1000-octet messages: 16 to a chunk. The last 20 of 100 are kept: k80..k95 in the sixth
  // chunk, k96..k99 in the seventh; the first five chunks hold no entry and are not counted.
  for (let i = 0; i < 100; i++) cache.set(entry(`k${i}`, 60, 0, 1000));
  assert.equal(cache.size, 20);
  assert.equal(cache.bytes, 2 * CHUNK_SIZE + 20 * 358);
  const kept = cache.get("k80", 1)!;
  assert.equal(kept.message.length, 1000);
  assert.equal(kept.message.buffer.byteLength, CHUNK_SIZE);
  assert.notEqual(kept.message.buffer, cache.get("k99", 1)!.message.buffer);

  // 16 more evict k81..k96 (k80 and k99, just read, are recent). k80 alone keeps its chunk
  // counted; k97..k99 share theirs with k100..k111, and k112..k115 start the eighth
  // (k100 on, 4-character keys cost 360).
  for (let i = 100; i < 116; i++) cache.set(entry(`k${i}`, 60, 0, 1000));
  assert.equal(cache.size, 20);
  assert.equal(cache.bytes, 3 * CHUNK_SIZE + 4 * 358 + 16 * 360);
  // Once k80 goes, so does its chunk's count.
  for (let i = 116; i < 119; i++) cache.set(entry(`k${i}`, 60, 0, 1000));
  assert.equal(cache.get("k80", 2), undefined);
  assert.equal(cache.bytes, 2 * CHUNK_SIZE + 1 * 358 + 19 * 360);
});

Deno.test("DnsCache gives a long message a buffer of its own", () => {
  const cache = new DnsCache({ maxEntries: 10, maxBytes: 1e6, staleTtl: 0 });
  const long = entry("big", 60, 0, MAX_PACKED_LENGTH + 1);
  const given = long.message;
  cache.set(long);
  const stored = cache.get("big", 1)!;
  assert.notEqual(stored.message, given, "a copy");
  assert.equal(stored.message.buffer.byteLength, MAX_PACKED_LENGTH + 1);
  assert.equal(cache.bytes, MAX_PACKED_LENGTH + 1 + 6 + 352);
});

Deno.test("DnsCache keeps expired entries for the stale window only", () => {
  const cache = new DnsCache({ maxEntries: 10, maxBytes: 1e6, staleTtl: 5 });
  cache.set(entry("x", 1, 0));
  assert.ok(cache.get("x", 3000), "expired, within the stale window");
  assert.equal(cache.get("x", 6001), undefined, "past the stale window");
  assert.equal(cache.size, 0);
  assert.equal(cache.bytes, 0);
});

Deno.test("DnsCache.deleteWhere() drops the entries picked, fresh or not, and their bytes", () => {
  const cache = new DnsCache({ maxEntries: 10, maxBytes: 1e6, staleTtl: 0 });
  for (const key of ["a.corp", "b.corp", "c.pub"]) cache.set(entry(key, 3600, 0));
  assert.equal(cache.deleteWhere((key) => key.endsWith(".corp")), 2);
  assert.equal(cache.size, 1);
  assert.equal(cache.get("a.corp", 1), undefined);
  assert.ok(cache.get("c.pub", 1));
  assert.equal(cache.bytes, CHUNK_SIZE + 2 * "c.pub".length + 352);
  assert.equal(cache.deleteWhere(() => true), 1);
  assert.equal(cache.bytes, 0);
});
