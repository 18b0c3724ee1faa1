import assert from "node:assert/strict";
import { mergeMetrics, monotonicPart } from "./merge_metrics.ts";

Deno.test("mergeMetrics() adds counters and histograms, and takes shared gauges once", () => {
  const page = (requests: number, bucket: number) =>
    [
      "# HELP dotproxy_dns_requests_total DNS queries received.",
      "# TYPE dotproxy_dns_requests_total counter",
      `dotproxy_dns_requests_total{proto="udp",type="A"} ${requests}`,
      "# HELP d_seconds Durations.",
      "# TYPE d_seconds histogram",
      `d_seconds_bucket{le="0.1"} ${bucket}`,
      `d_seconds_sum 0.5`,
      `d_seconds_count ${bucket}`,
      "# HELP dotproxy_cache_entries Answers in the cache.",
      "# TYPE dotproxy_cache_entries gauge",
      "dotproxy_cache_entries 42",
      "",
    ].join("\n");
  const merged = mergeMetrics([page(3, 1), page(4, 2), page(0, 0)]);
  assert.match(merged, /^dotproxy_dns_requests_total\{proto="udp",type="A"\} 7$/m);
  assert.match(merged, /^d_seconds_bucket\{le="0.1"\} 3$/m);
  assert.match(merged, /^d_seconds_sum 1.5$/m);
  assert.match(merged, /^d_seconds_count 3$/m);
  assert.match(merged, /^dotproxy_cache_entries 42$/m);
  assert.equal(merged.match(/# TYPE dotproxy_dns_requests_total counter/g)!.length, 1);
});

Deno.test("mergeMetrics() keeps series only some workers have", () => {
  const a = '# HELP x_total X.\n# TYPE x_total counter\nx_total{to="a"} 1\n';
  const b = '# HELP x_total X.\n# TYPE x_total counter\nx_total{to="b"} 2\n';
  assert.equal(
    mergeMetrics([a, b]),
    '# HELP x_total X.\n# TYPE x_total counter\nx_total{to="a"} 1\nx_total{to="b"} 2\n',
  );
});

Deno.test("mergeMetrics() gives an upstream's up state as the largest of the workers'", () => {
  const page = (up: number) =>
    `# HELP dotproxy_upstream_up Up.\n# TYPE dotproxy_upstream_up gauge\ndotproxy_upstream_up{to="a"} ${up}\n`;
  assert.match(mergeMetrics([page(0), page(1), page(1)]), /^dotproxy_upstream_up\{to="a"\} 1$/m);
  assert.match(mergeMetrics([page(0), page(0)]), /^dotproxy_upstream_up\{to="a"\} 0$/m);
});

Deno.test("monotonicPart() keeps counters and histograms, not gauges or shared families", () => {
  const page = [
    "# HELP q_total Q.",
    "# TYPE q_total counter",
    'q_total{proto="udp"} 5',
    "# HELP open Open connections.",
    "# TYPE open gauge",
    "open 3",
    "# HELP d_seconds Durations.",
    "# TYPE d_seconds histogram",
    'd_seconds_bucket{le="+Inf"} 2',
    "d_seconds_sum 0.25",
    "d_seconds_count 2",
    "# HELP dotproxy_cache_evictions_total Evictions.",
    "# TYPE dotproxy_cache_evictions_total counter",
    "dotproxy_cache_evictions_total 9",
    "",
  ].join("\n");
  const part = monotonicPart(page);
  assert.match(part, /^q_total\{proto="udp"\} 5$/m);
  assert.match(part, /^d_seconds_bucket\{le="\+Inf"\} 2$/m);
  assert.match(part, /^d_seconds_sum 0.25$/m);
  assert.match(part, /^d_seconds_count 2$/m);
  assert.doesNotMatch(part, /open/);
  assert.doesNotMatch(part, /evictions/);
  // A dead worker's part added to a fresh worker's page: the totals do not go down.
  const fresh = page.replace("} 5", "} 1");
  assert.match(mergeMetrics([fresh, part]), /^q_total\{proto="udp"\} 6$/m);
  assert.match(mergeMetrics([fresh, part]), /^open 3$/m);
  assert.match(mergeMetrics([fresh, part]), /^dotproxy_cache_evictions_total 9$/m);
});
