/**
 * Starts the real proxy in this process, on loopback with an ephemeral port,
 * forwarding to test upstreams that present the committed test certificates.
 *
 * @module
 */

import { type RunningProxy, startProxy } from "../../src/proxy.ts";
import { parseUpstream } from "../../src/config/parsers.ts";
import { parseForwardZone } from "../../src/config/routing.ts";
import type { UpstreamPolicy } from "../../src/upstream/upstream_group.ts";
import type { HedgeMode } from "../../src/upstream/hedge_policy.ts";
import type { FakeDotServer } from "./fake_dot_server.ts";
import { testdataPath } from "./tools.ts";

/** The committed test CA, trusted by the proxy in tests. */
export const TEST_CA = Deno.readTextFileSync(testdataPath("tls", "ca.pem"));

/** Options of {@linkcode startTestProxy}. */
export interface TestProxyOptions {
  /**
   * Upstream specs, as for `--upstream` (files named by `@client-cert=` are read); a server
   * becomes `127.0.0.1:PORT#dot.test`.
   */
  readonly upstreams: readonly (FakeDotServer | string)[];
  readonly timeoutMs?: number;
  readonly maxUdpSize?: number;
  readonly tcpIdleTimeoutMs?: number;
  readonly upstreamIdleTimeoutMs?: number;
  readonly cacheSize?: number;
  readonly cacheMaxBytes?: number;
  /** `ZONE=SPEC[,SPEC...]` as for `--forward-zone`. */
  readonly forwardZones?: readonly string[];
  readonly upstreamPolicy?: UpstreamPolicy;
  /** `--hedge`. @default {"auto"} */
  readonly hedge?: HedgeMode;
  readonly builtinZones?: boolean;
  /** Serve the operations endpoint on an ephemeral loopback port. */
  readonly http?: boolean;
  readonly idleProbeMs?: number;
  /** Addresses to listen on. @default {["127.0.0.1"]} */
  readonly listen?: readonly string[];
}

/**
 * Starts the proxy.
 *
 * @param options Upstreams and settings.
 * @returns The running proxy; dispose it to stop it.
 */
export function startTestProxy(options: TestProxyOptions): RunningProxy {
  return startProxy({
    listen: options.listen ?? ["127.0.0.1"],
    port: 0,
    upstreams: options.upstreams.map((upstream) =>
      parseUpstream(
        typeof upstream === "string" ? upstream : `127.0.0.1:${upstream.port}#dot.test`,
        "--upstream",
        { readTextFile: Deno.readTextFileSync },
      )
    ),
    caCerts: [TEST_CA],
    timeoutMs: options.timeoutMs ?? 3000,
    maxUdpSize: options.maxUdpSize ?? 1232,
    tcpIdleTimeoutMs: options.tcpIdleTimeoutMs ?? 10000,
    upstream: { idleTimeoutMs: options.upstreamIdleTimeoutMs ?? 30000 },
    version: "0.0.0-test",
    ...(options.cacheSize !== undefined && { cacheSize: options.cacheSize }),
    ...(options.cacheMaxBytes !== undefined && { cacheMaxBytes: options.cacheMaxBytes }),
    ...(options.http && { http: { hostname: "127.0.0.1", port: 0 } }),
    ...(options.idleProbeMs !== undefined && { idleProbeMs: options.idleProbeMs }),
    forwardZones: (options.forwardZones ?? []).map((zone) =>
      parseForwardZone(zone, "--forward-zone", { readTextFile: () => "" })
    ),
    upstreamPolicy: options.upstreamPolicy ?? "sequential",
    ...(options.hedge !== undefined && { hedge: options.hedge }),
    ...(options.builtinZones !== undefined && { builtinZones: options.builtinZones }),
  });
}

/** A loopback port that nothing listens on (bound, then closed). */
export function deadPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}
