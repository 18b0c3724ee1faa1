import assert from "node:assert/strict";
import { getHeaderRcode } from "../wire/header.ts";
import { RCODE } from "../wire/constants.ts";
import { parseMessage } from "../wire/message.ts";
import { encode, FLAGS, type PacketRecord } from "../wire/test_packets_test.ts";
import { cacheKey } from "../cache/cache_key.ts";
import { ProxyMetrics } from "../observability/proxy_metrics.ts";
import type { Router } from "../routing/router.ts";
import { DnssecAnswers } from "./answer_validation.ts";
import type { ChainFetcher } from "./chain_of_trust.ts";
import type { Name } from "./names.ts";
import { parseTrustAnchors, TrustAnchors } from "./trust_anchors.ts";
import { Validator } from "./validator.ts";
import { DNSSEC_EDE } from "./verdict.ts";

const TIMEOUT_MS = 30;
const QUESTION = { name: "www.example", type: "A" };
const OPT_DO: PacketRecord = { name: ".", type: "OPT", udpPayloadSize: 1232, flags: FLAGS.DO };
const QUERY = encode({ id: 1, flags: FLAGS.RD, questions: [QUESTION], additionals: [OPT_DO] });
const REPLY = encode({
  id: 1,
  type: "response",
  flags: FLAGS.RD | FLAGS.RA,
  questions: [QUESTION],
  answers: [{ name: "www.example", type: "A", ttl: 300, data: "192.0.2.1" }],
});

/** A fetcher no upstream ever answers for (not even with a failure); it notes each fetch. */
class SilentFetcher implements ChainFetcher {
  readonly deadlines: number[] = [];
  fetch(_name: Name, _type: number, deadline: number): Promise<Uint8Array | null> {
    this.deadlines.push(deadline);
    return new Promise(() => {});
  }
}

function answers(fetcher: ChainFetcher): DnssecAnswers {
  const anchors = new TrustAnchors(parseTrustAnchors(". DS 1 13 2 00"));
  const router = { route: () => ({ kind: "forward", zone: "." }) } as unknown as Router;
  return new DnssecAnswers({
    validator: new Validator({ anchors, fetcher }),
    router: () => router,
    metrics: new ProxyMetrics("test"),
    timeoutMs: TIMEOUT_MS,
  });
}

/** The INFO-CODE of each Extended DNS Error option (code 15). */
function edeCodes(errors: readonly Uint8Array[]): number[] {
  return errors.map((option) => (option[4]! << 8) | option[5]!);
}

Deno.test("DnssecAnswers.check() ends at the query's deadline when the chain is never answered", async () => {
  const fetcher = new SilentFetcher();
  const arrivedAt = performance.now();
  const reply = REPLY.slice();
  const answer = await answers(fetcher).check(
    cacheKey(QUERY, parseMessage(QUERY)),
    reply,
    parseMessage(reply),
    arrivedAt,
  );
  assert.equal(answer.security, "bogus");
  assert.equal(getHeaderRcode(answer.message), RCODE.SERVFAIL);
  assert.deepEqual(edeCodes(answer.errors), [DNSSEC_EDE.NO_REACHABLE_AUTHORITY]);
  assert.deepEqual(fetcher.deadlines, [arrivedAt + TIMEOUT_MS], "one fetch, given the deadline");
});

Deno.test("DnssecAnswers.check() fetches nothing once the query's deadline has passed", async () => {
  const fetcher = new SilentFetcher();
  const reply = REPLY.slice();
  const answer = await answers(fetcher).check(
    cacheKey(QUERY, parseMessage(QUERY)),
    reply,
    parseMessage(reply),
    performance.now() - TIMEOUT_MS,
  );
  assert.deepEqual(edeCodes(answer.errors), [DNSSEC_EDE.NO_REACHABLE_AUTHORITY]);
  assert.deepEqual(fetcher.deadlines, []);
});

Deno.test("a chain fetch cut short by one query's deadline is not remembered as a failed link", async () => {
  const fetcher = new SilentFetcher();
  const subject = answers(fetcher);
  const key = cacheKey(QUERY, parseMessage(QUERY));
  for (let i = 0; i < 2; i++) {
    const reply = REPLY.slice();
    const answer = await subject.check(key, reply, parseMessage(reply), performance.now());
    assert.deepEqual(edeCodes(answer.errors), [DNSSEC_EDE.NO_REACHABLE_AUTHORITY]);
  }
  assert.equal(fetcher.deadlines.length, 2, "the second query asked again");
});
