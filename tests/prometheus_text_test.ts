// The strict Prometheus text parser used by the metrics tests must reject
// what Prometheus rejects, or those tests could not fail.

import assert from "node:assert/strict";
import { parsePrometheusText, valueOf } from "./_util/prometheus_text.ts";

const GOOD = `# HELP a_total Things.
# TYPE a_total counter
a_total{x="1",y="q\\"uote"} 3
# TYPE h_seconds histogram
h_seconds_bucket{le="0.1"} 1
h_seconds_bucket{le="+Inf"} 2
h_seconds_sum 0.3
h_seconds_count 2
`;

Deno.test("parsePrometheusText() reads a valid exposition", () => {
  const families = parsePrometheusText(GOOD);
  assert.equal(valueOf(families, "a_total", { x: "1" }), 3);
  assert.equal(families.get("a_total")?.samples[0]?.labels.y, 'q"uote');
  assert.equal(valueOf(families, "h_seconds_count"), 2);
});

Deno.test("parsePrometheusText() rejects malformed expositions", () => {
  const bad = [
    GOOD.slice(0, -1), // no final newline
    "a_total 1\n", // no TYPE
    "# TYPE a counter\na{x=1} 1\n", // unquoted label value
    '# TYPE a counter\na{x="1"} one\n', // bad value
    '# TYPE a counter\na{x="1"} 1\na{x="1"} 2\n', // duplicate series
    "# TYPE 1a counter\n", // bad name
    '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\n', // not cumulative
    '# TYPE h histogram\nh_bucket{le="1"} 1\nh_count 1\n', // no +Inf
  ];
  for (const text of bad) assert.throws(() => parsePrometheusText(text), Error, text);
});
