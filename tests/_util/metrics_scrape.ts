/**
 * The /metrics text of a real proxy that has answered queries of each kind
 * (UDP and TCP, from an upstream and from the cache, a malformed one, and a
 * failover from a dead upstream), so that every family the dashboards and
 * rules use has samples with its labels.
 *
 * @module
 */

import { startFakeDotServer } from "./fake_dot_server.ts";
import { buildQuery, TcpDnsClient, udpQuery } from "./dns_client.ts";
import { deadPort, startTestProxy } from "./proxy_fixture.ts";

/**
 * Starts a proxy with a dead and a live upstream, sends it queries, and
 * returns its /metrics body; the proxy and upstream are stopped after.
 *
 * @returns The exposition text.
 */
export async function scrapeAnsweringProxy(): Promise<string> {
  await using upstream = await startFakeDotServer();
  const dead = `127.0.0.1:${deadPort()}#dot.test`;
  await using proxy = startTestProxy({ upstreams: [dead, upstream], http: true });
  await udpQuery(proxy.port, buildQuery("one.example.test", "A"));
  await udpQuery(proxy.port, buildQuery("one.example.test", "A")); // from the cache
  await using client = await TcpDnsClient.connect(proxy.port);
  await client.send(buildQuery("two.example.test", "AAAA"));
  await client.receive();
  await udpQuery(proxy.port, new Uint8Array([0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0])); // FORMERR
  const { hostname, port } = proxy.http!.addr;
  const response = await fetch(`http://${hostname}:${port}/metrics`);
  if (!response.ok) throw new Error(`Cannot scrape /metrics: status ${response.status}`);
  return await response.text();
}
