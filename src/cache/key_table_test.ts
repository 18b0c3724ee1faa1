import assert from "node:assert/strict";
import { KeyTable } from "./key_table.ts";

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
