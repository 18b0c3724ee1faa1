import assert from "node:assert/strict";
import { parseConfig } from "../config/config.ts";
import { IDLE_PROBE_MS } from "../proxy.ts";
import { workerOptions } from "./worker_options.ts";

function config(args: string[]) {
  const result = parseConfig(["--upstream", "9.9.9.9#dns.quad9.net", ...args], {
    env: {},
    isTerminal: false,
  });
  assert(result.kind === "run");
  return result.config;
}

Deno.test("workerOptions() has workers probe idle upstreams when the endpoint is on", () => {
  const on = workerOptions({ config: config(["--http", "127.0.0.1:0"]), workers: 2, version: "t" });
  assert.equal(on.idleProbeMs, IDLE_PROBE_MS);
  assert.equal("http" in on, false);
  const off = workerOptions({ config: config([]), workers: 2, version: "t" });
  assert.equal(off.idleProbeMs, undefined);
});
