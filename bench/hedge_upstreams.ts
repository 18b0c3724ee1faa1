/**
 * The two upstreams of the hedging scenario (hedge_scenario.ts), in a
 * process of their own so that their work does not delay the client that
 * measures: prints `{"stalling": PORT, "steady": PORT}` on one line, then
 * serves until SIGTERM. The first holds one query in `STALL_EVERY` for
 * `STALL_MS` before its answer.
 *
 * Usage: deno run --allow-all bench/hedge_upstreams.ts STALL_EVERY STALL_MS
 *
 * @module
 */

import { startFakeDotServer } from "../tests/_util/fake_dot_server.ts";
import { defaultAnswer, type ReceivedQuery } from "../tests/_util/fake_dot_answers.ts";

const [stallEvery, stallMs] = Deno.args.map(Number) as [number, number];
if (!(stallEvery > 0 && stallMs >= 0)) {
  throw new TypeError("Usage: hedge_upstreams.ts STALL_EVERY STALL_MS");
}

/** The default answer after `stallMs`, or nothing if the connection closes first. */
function held(query: ReceivedQuery): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(defaultAnswer(query)), stallMs);
    query.signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(new Error("Cannot answer: the connection closed"));
    }, { once: true });
  });
}

let received = 0;
const stalling = await startFakeDotServer({
  handler: (query) => ++received % stallEvery === 0 ? held(query) : defaultAnswer(query),
});
const steady = await startFakeDotServer();
const stopped = Promise.withResolvers<void>();
Deno.addSignalListener("SIGTERM", () => stopped.resolve());
Deno.stdout.writeSync(
  new TextEncoder().encode(JSON.stringify({ stalling: stalling.port, steady: steady.port }) + "\n"),
);
await stopped.promise;
await Promise.all([stalling.close(), steady.close()]);
Deno.exit(0);
