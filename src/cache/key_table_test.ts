import assert from "node:assert/strict";
import { halfSipHash13, KeyTable } from "./key_table.ts";
import { fnvCollidingKeys, unseededFnv1a } from "./_fnv_collisions.ts";

Deno.test("KeyTable adds, replaces, finds and deletes entries", () => {
  const table = new KeyTable<string>();
  assert.equal(table.get("a"), undefined);
  table.set("a", "first");
  table.set("b", "second");
  table.set("a", "replaced");
  assert.equal(table.size, 2);
  assert.equal(table.get("a"), "replaced");
  assert.equal(table.delete("a"), true);
  assert.equal(table.delete("a"), false);
  assert.equal(table.get("a"), undefined);
  assert.equal(table.get("b"), "second");
  assert.equal(table.size, 1);
});

Deno.test("KeyTable agrees with a Map through random inserts and deletes, growth and wraparound", () => {
  // A tiny table, so that probe runs collide, wrap past the last slot and
  // are shifted back on delete; a seeded generator, so that a failure repeats.
  let seed = 12345;
  const random = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const table = new KeyTable<number>(8);
  const reference = new Map<string, number>();
  for (let step = 0; step < 20_000; step++) {
    const key = `k${random(300)}`;
    const action = random(3);
    if (action === 0) {
      assert.equal(table.delete(key), reference.delete(key), `delete ${key} at step ${step}`);
    } else {
      table.set(key, step);
      reference.set(key, step);
    }
    assert.equal(table.size, reference.size);
    const probe = `k${random(300)}`;
    assert.equal(table.get(probe), reference.get(probe), `get ${probe} at step ${step}`);
  }
  for (const [key, value] of reference) assert.equal(table.get(key), value);
});

Deno.test("KeyTable keeps keys whose hashes share a home slot apart", () => {
  const table = new KeyTable<number>(8);
  // Many keys in few slots (the table grows from 8 to 128): probe runs are
  // long, and every other delete shifts a run back.
  const keys = Array.from({ length: 64 }, (_, i) => `name-${i}`);
  keys.forEach((key, i) => table.set(key, i));
  for (let i = 0; i < keys.length; i += 2) assert.equal(table.delete(keys[i]!), true);
  keys.forEach((key, i) => assert.equal(table.get(key), i % 2 === 0 ? undefined : i));
  assert.equal(table.size, 32);
});

Deno.test("KeyTable does not cluster keys crafted to collide under an unseeded FNV-1a", () => {
  // 4000 keys with one home slot in any table of up to 65,536 slots under
  // the unseeded hash: linear probing would look at 2000 slots per lookup
  // on average. Seeded per process, they scatter like any other keys.
  const keys = fnvCollidingKeys(4000);
  assert.equal(keys.length, 4000);
  assert.equal(new Set(keys.map((key) => unseededFnv1a(key) & 0xffff)).size, 1);
  const table = new KeyTable<number>();
  keys.forEach((key, i) => table.set(key, i));
  const probes = keys.map((key) => table.probeLength(key));
  const mean = probes.reduce((sum, n) => sum + n, 0) / probes.length;
  // At most half full: about 1.5 slots per lookup on average (Knuth), and
  // runs far shorter than 100 with random hashes.
  assert.ok(mean < 3, `${mean} slots per lookup on average`);
  assert.ok(Math.max(...probes) < 100, `a lookup looks at ${Math.max(...probes)} slots`);
  keys.forEach((key, i) => assert.equal(table.get(key), i));
});

Deno.test("KeyTable.probeLength() counts the slots a lookup looks at", () => {
  const table = new KeyTable<number>(8);
  assert.equal(table.probeLength("absent"), 1, "an empty home slot");
  table.set("a", 1);
  assert.equal(table.probeLength("a"), 1);
});

Deno.test("halfSipHash13() gives the HalfSipHash-1-3 test vectors of Linux's lib/siphash_kunit.c", () => {
  // The 32-bit hsiphash vectors for 0, 2, 4, 6 and 8 octets 00 01 02 ..., under the key 00 01 .. 07.
  const vectors = [0x5814c896, 0xbc4b0e30, 0x7e059ea6, 0xa0080b65, 0x577999b1];
  vectors.forEach((expected, i) => {
    const input = Array.from({ length: i }, (_, j) => String.fromCharCode((2 * j + 1) << 8 | 2 * j))
      .join("");
    assert.equal(halfSipHash13(input, 0x03020100, 0x07060504) >>> 0, expected, `${2 * i} octets`);
  });
});
