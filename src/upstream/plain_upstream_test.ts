import assert from "node:assert/strict";
import { PlainUpstream } from "./plain_upstream.ts";
import type { PlainUpstreamSpec } from "./upstream_spec.ts";
import { ProxyMetrics } from "../observability/proxy_metrics.ts";
import { parseMessage } from "../wire/message.ts";
import { buildUpstreamFrame } from "../wire/upstream_query.ts";
import { startFakePlainServer } from "../../tests/_util/fake_plain_server.ts";
import { buildQuery } from "../../tests/_util/dns_client.ts";

Deno.test("a listener that throws on its reply is logged, not an unhandled rejection", async () => {
  // Were the throw left to the promise that told the listener, Deno would
  // end the test (and the proxy) with "Uncaught (in promise)".
  await using server = startFakePlainServer();
  const spec: PlainUpstreamSpec = {
    plaintext: true,
    address: "127.0.0.1",
    port: server.port,
    label: `udp://127.0.0.1:${server.port}`,
  };
  const upstream = new PlainUpstream({ spec, metrics: new ProxyMetrics("0").upstream(spec.label) });
  try {
    const query = buildQuery("throws.example.test", "A");
    const layout = parseMessage(query);
    const told = Promise.withResolvers<void>();
    upstream.send(buildUpstreamFrame(query, layout), layout, 2000, {
      replied: () => {
        told.resolve();
        throw new Error("a bug further up");
      },
      failed: (error) => told.reject(error),
    });
    await told.promise;
    // Let the rejection handler run before the test ends.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(server.queries.length, 1);
  } finally {
    await upstream.close();
  }
});
