import assert from "node:assert/strict";
import { UpstreamHealth, type UpstreamHealthOptions } from "./health.ts";
import { UpstreamError } from "./upstream_error.ts";

const timeout = new UpstreamError("timeout", "u", "no answer");

/** A health whose probe does what `probe` says; probes every 10 ms while down. */
function health(probe: UpstreamHealthOptions["probe"]) {
  return new UpstreamHealth({ label: "u", probe, probeIntervalMs: 10, probeTimeoutMs: 50 });
}

async function until(condition: () => boolean): Promise<boolean> {
  for (let i = 0; i < 200 && !condition(); i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return condition();
}

Deno.test("UpstreamHealth counts a timeout only when nothing was heard since the query was sent", async () => {
  const subject = health(() => Promise.resolve());
  try {
    const sentAt = performance.now();
    subject.recordSuccess(sentAt + 1); // another name answered meanwhile
    subject.recordFailure(timeout, sentAt);
    subject.recordFailure(timeout, sentAt);
    assert.equal(subject.up, true, "a slow name is not a dead upstream");
    const later = performance.now() + 2;
    subject.recordFailure(timeout, later);
    subject.recordFailure(timeout, later);
    assert.equal(subject.up, false, "two silent timeouts in a row mark it down");
  } finally {
    await subject.close();
  }
});

Deno.test("UpstreamHealth leaves busy and rejected out, and a rejection is a sign of life", async () => {
  const subject = health(() => Promise.resolve());
  try {
    const sentAt = performance.now();
    for (let i = 0; i < 3; i++) {
      subject.recordFailure(new UpstreamError("busy", "u", "full"));
      subject.recordFailure(new UpstreamError("rejected", "u", "FORMERR"));
    }
    assert.equal(subject.up, true);
    subject.recordFailure(timeout, sentAt);
    subject.recordFailure(timeout, sentAt);
    assert.equal(subject.up, true, "the rejections came after the query was sent");
  } finally {
    await subject.close();
  }
});

Deno.test("UpstreamHealth is up again at the first answered real query, probes failing", async () => {
  let probes = 0;
  const subject = health(() => {
    probes++;
    return Promise.reject(new UpstreamError("timeout", "u", "probe unanswered"));
  });
  try {
    subject.recordFailure(new UpstreamError("connect", "u", "refused"));
    assert.equal(subject.up, false);
    assert.ok(await until(() => probes >= 2), "probed while down");
    subject.recordSuccess();
    assert.equal(subject.up, true);
  } finally {
    await subject.close();
  }
});

Deno.test("UpstreamHealth takes a refused probe for an answer", async () => {
  const subject = health(() => Promise.reject(new UpstreamError("rejected", "u", "REFUSED")));
  try {
    subject.recordFailure(new UpstreamError("connect", "u", "refused"));
    assert.equal(subject.up, false);
    assert.ok(await until(() => subject.up), "up after the refused probe");
  } finally {
    await subject.close();
  }
});

Deno.test("UpstreamHealth probes again when marked down after a real query brought it back", async () => {
  let answer = false;
  let probes = 0;
  const subject = health(() => {
    probes++;
    return answer ? Promise.resolve() : Promise.reject(new UpstreamError("timeout", "u", "no"));
  });
  try {
    subject.recordFailure(new UpstreamError("connect", "u", "refused"));
    subject.recordSuccess(); // up by a real query while the probe loop waits
    subject.recordFailure(new UpstreamError("connect", "u", "refused again"));
    assert.equal(subject.up, false);
    const before = probes;
    assert.ok(await until(() => probes > before), "still probed");
    answer = true;
    assert.ok(await until(() => subject.up), "a probe brings it back");
  } finally {
    await subject.close();
  }
});
