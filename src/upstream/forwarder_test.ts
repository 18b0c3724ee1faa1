import assert from "node:assert/strict";
import { type MessageLayout, parseMessage } from "../wire/message.ts";
import { type Forwarded, Forwarder } from "./forwarder.ts";
import { HEDGE_FLOOR_MS } from "./hedge_delay.ts";
import { UpstreamHealth } from "./health.ts";
import type { ReplyListener } from "./reply_listener.ts";
import type { Upstream, UpstreamSeries } from "./upstream.ts";
import { UpstreamError } from "./upstream_error.ts";
import { UpstreamGroup } from "./upstream_group.ts";

/** A query for example.org A with RD set. */
const QUERY = new Uint8Array([
  0x12,
  0x34,
  0x01,
  0x00,
  0,
  1,
  0,
  0,
  0,
  0,
  0,
  0,
  7,
  ...new TextEncoder().encode("example"),
  3,
  ...new TextEncoder().encode("org"),
  0,
  0,
  1,
  0,
  1,
]);

const counter = { inc(): void {} };
const series: UpstreamSeries = {
  sent: counter,
  duration: { observe(): void {} },
  opened: counter,
  pinMismatch: counter,
  forged: counter,
  hedged: counter,
  hedgeWon: counter,
  resent: counter,
  failed(): void {},
};

/**
 * An upstream driven by the test: it answers at once with a given
 * round-trip time, or holds the query until the test tells its listener.
 */
class ScriptedUpstream implements Upstream {
  readonly health: UpstreamHealth;
  readonly metrics = series;
  readonly openConnections = 0;
  readonly inFlight = 0;
  /** Round-trip time to answer with at once; null: hold the query. */
  answerRttMs: number | null = 1;
  /** Listeners of the queries held. */
  readonly held: ReplyListener[] = [];

  constructor(readonly label: string) {
    this.health = new UpstreamHealth({ label, probe: () => Promise.resolve(), maxFails: 100 });
  }

  send(
    _frame: Uint8Array,
    layout: MessageLayout,
    _timeoutMs: number,
    listener: ReplyListener,
  ): void {
    if (this.answerRttMs === null) this.held.push(listener);
    else listener.replied(QUERY, layout, this.answerRttMs);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Forwards one query and returns its outcome once the listener is told. */
function forward(forwarder: Forwarder, group: UpstreamGroup): Promise<Forwarded | null> {
  const { promise, resolve, reject } = Promise.withResolvers<Forwarded | null>();
  forwarder.forward(QUERY, parseMessage(QUERY), group, performance.now(), {
    forwarded(forwarded, error): void {
      if (error !== undefined) reject(error);
      else resolve(forwarded);
    },
  });
  return promise;
}

/** Waits (bounded) until an upstream holds a query. */
async function untilHeld(upstream: ScriptedUpstream, count: number): Promise<void> {
  for (let i = 0; i < 400 && upstream.held.length < count; i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.equal(upstream.held.length, count, `${upstream.label} never got query ${count}`);
}

Deno.test("Forwarder records an attempt after a hedge in the RTT window of its own upstream", async () => {
  const [a, b] = [new ScriptedUpstream("a"), new ScriptedUpstream("b")];
  const group = new UpstreamGroup([a, b], "sequential");
  const forwarder = new Forwarder({ timeoutMs: 10_000, hedge: "auto" });

  // Eight quick answers from a: its hedge delay drops to the floor.
  for (let i = 0; i < 8; i++) {
    assert.equal((await forward(forwarder, group))?.upstream, "a");
  }
  assert.equal(forwarder.hedgeDelayMs(a), HEDGE_FLOOR_MS);

  // A query a holds is hedged to b; both fail, and the next attempt (to b) answers slowly.
  a.answerRttMs = null;
  b.answerRttMs = null;
  const outcome = forward(forwarder, group);
  await untilHeld(b, 1);
  await untilHeld(a, 1);
  a.held[0]!.failed(new UpstreamError("bad-reply", "a", "scripted"));
  b.held[0]!.failed(new UpstreamError("bad-reply", "b", "scripted"));
  await untilHeld(b, 2);
  b.held[1]!.replied(QUERY, parseMessage(QUERY), 900);
  assert.equal((await outcome)?.upstream, "b");

  // Seven more quick answers from a make sixteen of its samples, and the
  // delay is computed again: b's 900 ms must not be among them.
  a.answerRttMs = 1;
  for (let i = 0; i < 7; i++) {
    assert.equal((await forward(forwarder, group))?.upstream, "a");
  }
  assert.equal(forwarder.hedgeDelayMs(a), HEDGE_FLOOR_MS);
});

Deno.test("Forwarder.hedgeDelayMs() is null with hedging off and the fixed delay otherwise", () => {
  const a = new ScriptedUpstream("a");
  assert.equal(new Forwarder({ timeoutMs: 1000, hedge: "off" }).hedgeDelayMs(a), null);
  assert.equal(new Forwarder({ timeoutMs: 1000, hedge: 25 }).hedgeDelayMs(a), 25);
});
