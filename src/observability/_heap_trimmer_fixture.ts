/**
 * Test fixture of heap_trimmer_test.ts, run in its own process so that it
 * can be started with or without `--expose-gc`. `check` grows the heap by
 * about 32 MiB of garbage around two checks and prints what the trimmer
 * did as JSON; `idle` starts the trimmer's timer and returns, so the
 * process must exit on its own.
 *
 * @module
 */

import { HeapTrimmer } from "./heap_trimmer.ts";

const MIB = 1024 * 1024;

function print(text: string): void {
  Deno.stdout.writeSync(new TextEncoder().encode(text + "\n"));
}

/** About 32 MiB of small objects on the V8 heap (50 bytes and more each). */
function garbage(): { i: number; s: string }[] {
  return Array.from({ length: 640_000 }, (_, i) => ({ i, s: `name-${i}` }));
}

if (Deno.args[0] === "check") {
  const trimmer = new HeapTrimmer({ growthBytes: 8 * MIB });
  const unchanged = trimmer.check();
  let junk: unknown[] | null = garbage();
  const grown = Deno.memoryUsage().heapUsed;
  junk = null;
  const collected = trimmer.check();
  const after = Deno.memoryUsage().heapUsed;
  const again = trimmer.check();
  // The timer path: grow again, then wait (bounded) for the timer's check.
  const timed = new HeapTrimmer({ growthBytes: 8 * MIB, intervalMs: 10 });
  junk = garbage();
  junk = null;
  timed.start();
  for (let i = 0; i < (timed.enabled ? 500 : 20) && timed.collections === 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  timed.stop();
  print(JSON.stringify({
    enabled: trimmer.enabled,
    unchanged,
    collected,
    again,
    freedMiB: (grown - after) / MIB,
    collections: trimmer.collections,
    timedCollections: timed.collections,
    leftJunk: junk === null,
  }));
} else if (Deno.args[0] === "idle") {
  new HeapTrimmer({ growthBytes: MIB, intervalMs: 10 }).start();
  print("started");
}
