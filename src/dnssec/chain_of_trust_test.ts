import assert from "node:assert/strict";
import { BOGUS_TTL, type ChainFetcher, ChainOfTrust } from "./chain_of_trust.ts";
import { nameFromText } from "./names.ts";
import { parseTrustAnchors, TrustAnchors } from "./trust_anchors.ts";
import { BogusError } from "./verdict.ts";
import { WorkBudget } from "./work_budget.ts";

/** No upstream answers: every link fails (bogus, "no answer"). */
const SILENT: ChainFetcher = { fetch: () => Promise.resolve(null) };

/** A trust anchor for each of `count` zones, each link of which fails under {@linkcode SILENT}. */
function manyAnchors(count: number): TrustAnchors {
  const lines = Array.from({ length: count }, (_, i) => `z${i}.example. DS ${i + 1} 13 2 00`);
  return new TrustAnchors(parseTrustAnchors(lines.join("\n")));
}

Deno.test("ChainOfTrust keeps failed links within maxLinks, oldest dropped first", async () => {
  const maxLinks = 8;
  const chain = new ChainOfTrust({ anchors: manyAnchors(50), fetcher: SILENT, maxLinks });
  for (let i = 0; i < 50; i++) {
    await assert.rejects(
      chain.zoneOf(nameFromText(`www.z${i}.example`), new WorkBudget()),
      BogusError,
    );
    assert.ok(chain.size <= maxLinks, `${chain.size} links after ${i + 1} failures`);
  }
  assert.equal(chain.size, maxLinks);
});

Deno.test("ChainOfTrust drops an expired link when it is looked up", async () => {
  let now = 1_000_000;
  let fetches = 0;
  const fetcher: ChainFetcher = {
    fetch: () => {
      fetches++;
      return Promise.resolve(null);
    },
  };
  const chain = new ChainOfTrust({ anchors: manyAnchors(2), fetcher, now: () => now });
  const name = nameFromText("www.z0.example");
  await assert.rejects(chain.zoneOf(name, new WorkBudget()), BogusError);
  await assert.rejects(chain.zoneOf(name, new WorkBudget()), BogusError);
  assert.deepEqual([fetches, chain.size], [1, 1], "the failure is remembered");
  now += BOGUS_TTL * 1000;
  await assert.rejects(chain.zoneOf(name, new WorkBudget()), BogusError);
  assert.deepEqual([fetches, chain.size], [2, 1], "expired: asked again, one entry still");
});
