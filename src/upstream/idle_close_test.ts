import assert from "node:assert/strict";
import { IdleCloseLearner, MIN_OBSERVED_MS, RELEARN_AFTER_MS } from "./idle_close.ts";

const CONFIGURED_MS = 30_000;

Deno.test("IdleCloseLearner ignores closes after less than the floor of idle time", () => {
  const learner = new IdleCloseLearner("short-lived");
  // A server that ends every connection within a few hundred milliseconds.
  for (let i = 0; i < 8; i++) learner.observe(MIN_OBSERVED_MS - 1 - 100 * (i % 3), 1000 + i);
  assert.equal(learner.learnedMs, undefined);
  assert.equal(learner.retireAfter(CONFIGURED_MS, 2000), CONFIGURED_MS);
  learner.observe(MIN_OBSERVED_MS, 3000);
  learner.observe(MIN_OBSERVED_MS, 3001);
  assert.equal(learner.learnedMs, MIN_OBSERVED_MS);
});

Deno.test("IdleCloseLearner forgets what it learned after a quiet time, and learns the server's new timer", () => {
  const learner = new IdleCloseLearner("grown");
  const start = 5000;
  learner.observe(2000, start);
  learner.observe(2000, start + 10);
  assert.equal(learner.retireAfter(CONFIGURED_MS, start + 20), 1600);
  // The proxy closes first from now on, so the server is not seen again.
  assert.equal(learner.retireAfter(CONFIGURED_MS, start + 10 + RELEARN_AFTER_MS - 1), 1600);
  // Ten minutes after the latest close: the configured time again, to watch the server anew.
  assert.equal(learner.retireAfter(CONFIGURED_MS, start + 10 + RELEARN_AFTER_MS), CONFIGURED_MS);
  assert.equal(learner.learnedMs, undefined);
  // The server's timer grew to 5 s: one close is not enough, two teach it (the 2 s are gone).
  const later = start + 20 + RELEARN_AFTER_MS;
  learner.observe(5000, later);
  assert.equal(learner.retireAfter(CONFIGURED_MS, later + 1), CONFIGURED_MS);
  learner.observe(5000, later + 2);
  assert.equal(learner.retireAfter(CONFIGURED_MS, later + 3), 4000);
});

Deno.test("IdleCloseLearner drops observations older than the quiet time before adding a new one", () => {
  const learner = new IdleCloseLearner("stale");
  learner.observe(1500, 0);
  // One close long after the first: together they would teach 1500 ms, alone it teaches nothing.
  learner.observe(9000, RELEARN_AFTER_MS);
  assert.equal(learner.learnedMs, undefined);
  learner.observe(9000, RELEARN_AFTER_MS + 1);
  assert.equal(learner.learnedMs, 9000);
});
