/**
 * Starts the real proxy for the abuse, fuzz and soak tests: loopback, an
 * ephemeral port, the test CA, the cache off (so that every answer checked
 * comes from an upstream, never from an earlier test step), and whatever
 * limits the test sets.
 *
 * @module
 */

import { type ProxyOptions, type RunningProxy, startProxy } from "../../src/proxy.ts";
import { parseUpstreamSpec } from "../../src/upstream/upstream_spec.ts";
import { TEST_CA } from "./proxy_fixture.ts";

/** An upstream: anything with a loopback port serving the test certificate, or a spec. */
export type TestUpstream = { readonly port: number } | string;

/**
 * Starts the proxy.
 *
 * @param upstreams Upstreams; a server becomes `127.0.0.1:PORT#dot.test`.
 * @param options Settings that override the test defaults.
 * @returns The running proxy; dispose it to stop it.
 */
export function startAbuseProxy(
  upstreams: readonly TestUpstream[],
  options: Partial<ProxyOptions> = {},
): RunningProxy {
  return startProxy({
    listen: ["127.0.0.1"],
    port: 0,
    upstreams: upstreams.map((upstream) =>
      parseUpstreamSpec(
        typeof upstream === "string" ? upstream : `127.0.0.1:${upstream.port}#dot.test`,
      )
    ),
    caCerts: [TEST_CA],
    timeoutMs: 3000,
    maxUdpSize: 1232,
    cacheSize: 0,
    ...options,
  });
}
