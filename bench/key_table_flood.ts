/**
 * KeyTable under hash flooding: the time to insert 8000 keys crafted to
 * collide under an unseeded FNV-1a, and the time per hit afterwards, beside
 * the same for 8000 random keys of the same shape (the table alone, no
 * proxy). Each figure is the median of several rounds, each on a new table,
 * in CPU time of this process (steadier than the clock on a shared machine).
 *
 * Usage: deno run bench/key_table_flood.ts [--keys N] [--rounds N]
 *
 * @module
 */

import process from "node:process";
import { parseArgs } from "node:util";
import { KeyTable } from "../src/cache/key_table.ts";
import { fnvCollidingKeys } from "../src/cache/_fnv_collisions.ts";

const { values } = parseArgs({
  options: { keys: { type: "string", default: "8000" }, rounds: { type: "string", default: "7" } },
});
const count = Number(values.keys);
const rounds = Number(values.rounds);
/** Lookups of every key per round, for the time per hit. */
const HIT_PASSES = 20;

function print(line: string): void {
  Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
}

/** Keys of the crafted keys' shape (a 10-octet label under test.), random octets. */
function randomKeys(n: number): string[] {
  const keys = new Set<string>();
  while (keys.size < n) {
    const label = Array.from({ length: 10 }, () => String.fromCharCode(Math.random() * 256)).join(
      "",
    );
    keys.add(`\x0a${label}\x04test\x00\x00\x01\x00\x01\x00`);
  }
  return [...keys];
}

/** CPU time used by this process, in milliseconds. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Median insert time (ms) and time per hit (µs). */
function measure(keys: string[]): { insertMs: number; hitUs: number } {
  const inserts: number[] = [];
  const hits: number[] = [];
  let found = 0;
  for (let round = 0; round < rounds; round++) {
    const table = new KeyTable<number>();
    const start = cpuMs();
    for (let i = 0; i < keys.length; i++) table.set(keys[i]!, i);
    const inserted = cpuMs();
    for (let pass = 0; pass < HIT_PASSES; pass++) {
      for (let i = 0; i < keys.length; i++) found += table.get(keys[i]!) === i ? 1 : 0;
    }
    const looked = cpuMs();
    inserts.push(inserted - start);
    hits.push((looked - inserted) * 1000 / (keys.length * HIT_PASSES));
  }
  if (found !== rounds * HIT_PASSES * keys.length) throw new Error("Cannot find every key");
  return { insertMs: median(inserts), hitUs: median(hits) };
}

const crafted = fnvCollidingKeys(count);
const random = randomKeys(count);
measure(random); // warm up
for (const [name, keys] of [["random", random], ["crafted", crafted]] as const) {
  const { insertMs, hitUs } = measure(keys);
  print(
    `${name.padEnd(8)} ${keys.length} keys: insert ${insertMs.toFixed(1)} ms, ` +
      `${hitUs.toFixed(3)} µs per hit`,
  );
}
