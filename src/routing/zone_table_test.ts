import assert from "node:assert/strict";
import { zoneKey, ZoneTable } from "./zone_table.ts";

Deno.test("ZoneTable finds the longest zone on label boundaries only", () => {
  const table = new ZoneTable<string>();
  table.set("corp.internal", "corp");
  table.set("eu.corp.internal.", "eu");
  table.set("b.c", "bc");
  assert.equal(table.lookup(zoneKey("corp.internal")), "corp");
  assert.equal(table.lookup(zoneKey("host.corp.internal")), "corp");
  assert.equal(table.lookup(zoneKey("a.b.eu.corp.internal")), "eu");
  assert.equal(table.lookup(zoneKey("xeu.corp.internal")), "corp");
  assert.equal(table.lookup(zoneKey("xcorp.internal")), undefined);
  assert.equal(table.lookup(zoneKey("internal")), undefined);
  // Same length as "b.c" but a different name: the length filter lets it
  // through to the map, which must still say no.
  assert.equal(table.lookup(zoneKey("x.a.c")), undefined);
  assert.equal(table.lookup(zoneKey("a.b.c")), "bc");
});

Deno.test("ZoneTable holds the root zone under every name", () => {
  const table = new ZoneTable<string>();
  assert.equal(table.lookup(zoneKey("example.com")), undefined);
  table.set(".", "root");
  table.set("example.com", "example");
  assert.equal(table.lookup(zoneKey("www.example.com")), "example");
  assert.equal(table.lookup(zoneKey("example.org")), "root");
  assert.equal(table.lookup(zoneKey(".")), "root");
});

Deno.test("ZoneTable matches names of the maximum length", () => {
  const table = new ZoneTable<number>();
  const label = "a".repeat(63);
  const longest = [label, label, label, "b".repeat(61)].join("."); // 255 octets in wire form
  assert.equal(zoneKey(longest).length, 255);
  table.set(longest, 1);
  table.set("b".repeat(61), 2);
  assert.equal(table.lookup(zoneKey(longest)), 1);
  assert.equal(table.lookup(zoneKey(`${label}.${"b".repeat(61)}`)), 2);
});
