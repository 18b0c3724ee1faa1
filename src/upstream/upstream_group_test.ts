import assert from "node:assert/strict";
import type { Upstream } from "./upstream.ts";
import { UpstreamGroup } from "./upstream_group.ts";

/** Only what ordering reads: a label and whether it is up. */
function fake(label: string, up = true): Upstream {
  return { label, health: { up } } as unknown as Upstream;
}

const labels = (upstreams: readonly Upstream[]) => upstreams.map((upstream) => upstream.label);

Deno.test("UpstreamGroup orders sequentially and leaves down upstreams out", () => {
  const group = new UpstreamGroup([fake("a"), fake("b", false), fake("c")], "sequential");
  assert.deepEqual(labels(group.order()), ["a", "c"]);
  assert.deepEqual(labels(group.order()), ["a", "c"]);
});

Deno.test("UpstreamGroup gives every upstream, in policy order, when all are down", () => {
  const sequential = new UpstreamGroup([fake("a", false), fake("b", false)], "sequential");
  assert.deepEqual(labels(sequential.order()), ["a", "b"]);
  const alone = new UpstreamGroup([fake("a", false)], "sequential");
  assert.deepEqual(labels(alone.order()), ["a"]);
  const roundRobin = new UpstreamGroup([fake("a", false), fake("b", false)], "round-robin");
  assert.deepEqual([0, 1, 2].map(() => roundRobin.order()[0]!.label), ["a", "b", "a"]);
});

Deno.test("UpstreamGroup round-robin starts each query at the next upstream", () => {
  const group = new UpstreamGroup([fake("a"), fake("b"), fake("c")], "round-robin");
  assert.deepEqual([0, 1, 2, 3].map(() => group.order()[0]!.label), ["a", "b", "c", "a"]);
});

Deno.test("UpstreamGroup fastest tries unmeasured upstreams first, then the lowest smoothed RTT", () => {
  const [a, b] = [fake("a"), fake("b")];
  const group = new UpstreamGroup([a, b], "fastest");
  for (let i = 0; i < 3; i++) {
    group.recordRtt(a, 40);
  }
  const bFirst = () => Array.from({ length: 1000 }, () => group.order()[0]).filter((u) => u === b);
  assert.ok(bFirst().length > 900, "b has no samples yet");
  for (let i = 0; i < 3; i++) group.recordRtt(b, 2);
  const firstIsB = bFirst().length;
  assert.ok(firstIsB > 900 && firstIsB < 1000, `b first ${firstIsB} times (5 % exploration)`);
  for (let i = 0; i < 6; i++) group.recordRtt(b, 400);
  assert.ok(group.srtt(b)! > group.srtt(a)!, "b got slow");
});
