import assert from "node:assert/strict";
import { HeapTrimmer } from "./heap_trimmer.ts";

const FIXTURE = new URL("./_heap_trimmer_fixture.ts", import.meta.url).pathname;

/** Runs the fixture in a new process with `v8Flags`; returns its stdout. */
async function fixture(mode: "check" | "idle", v8Flags: string[]): Promise<string> {
  const flags = v8Flags.length > 0 ? [`--v8-flags=${v8Flags.join(",")}`] : [];
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, FIXTURE, mode],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output();
  const decoder = new TextDecoder();
  assert.equal(code, 0, decoder.decode(stderr));
  return decoder.decode(stdout);
}

Deno.test("HeapTrimmer collects when the heap has grown by growthBytes, and not before", async () => {
  const result = JSON.parse(
    await fixture("check", ["--expose-gc", "--max-semi-space-size=4", "--single-threaded-gc"]),
  );
  assert.equal(result.enabled, true);
  assert.equal(result.unchanged, false, "collected although the heap had not grown");
  assert.equal(result.collected, true, "did not collect after 32 MiB of garbage");
  assert.ok(result.freedMiB > 16, `the collection freed only ${result.freedMiB} MiB`);
  assert.equal(result.again, false, "collected again right after a collection");
  assert.equal(result.collections, 1);
  assert.ok(result.timedCollections > 0, "the timer never collected");
});

Deno.test("HeapTrimmer does nothing without --expose-gc", async () => {
  const result = JSON.parse(await fixture("check", ["--max-semi-space-size=4"]));
  assert.equal(result.enabled, false);
  assert.equal(result.collected, false);
  assert.equal(result.collections, 0);
  assert.equal(result.timedCollections, 0);
});

Deno.test("HeapTrimmer's timer does not keep the process alive", async () => {
  // Bounded by the fixture's 30 s timeout: with a ref'd timer the process would never exit.
  assert.equal(await fixture("idle", ["--expose-gc"]), "started\n");
});

Deno.test("HeapTrimmer rejects a growth that is not positive", () => {
  assert.throws(() => new HeapTrimmer({ growthBytes: 0 }), RangeError);
  assert.throws(() => new HeapTrimmer({ growthBytes: NaN }), RangeError);
});
