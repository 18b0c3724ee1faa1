// The Grafana dashboard of deploy/grafana/: every PromQL expression parses
// (Prometheus's own grammar) and selects only metrics and labels a running
// proxy exports, and the panels an operator looks for are there.

import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix -- pinned here, not in deno.json: docs/development.md
import { parse as parseYaml } from "npm:yaml@2.9.1";
import { scrapeAnsweringProxy } from "./_util/metrics_scrape.ts";
import { parsePrometheusText } from "./_util/prometheus_text.ts";
import { expandGrafanaVariables, promqlReferences, unknownReferences } from "./_util/promql.ts";

const DASHBOARD = new URL("../deploy/grafana/dotproxy-dashboard.json", import.meta.url);
const RULES = new URL("../deploy/prometheus/dotproxy.rules.yml", import.meta.url);

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource: { uid: string };
  targets: { refId: string; expr: string }[];
}

async function panels(): Promise<Panel[]> {
  return (JSON.parse(await Deno.readTextFile(DASHBOARD)) as { panels: Panel[] }).panels;
}

Deno.test("every dashboard query uses only metrics and labels that a running proxy exports", async () => {
  const families = parsePrometheusText(await scrapeAnsweringProxy());
  const rules = parseYaml(await Deno.readTextFile(RULES)) as {
    groups: { rules: { record?: string }[] }[];
  };
  const recorded = new Set(
    rules.groups.flatMap((group) => group.rules.flatMap((r) => r.record ?? [])),
  );
  let checked = 0;
  for (const panel of await panels()) {
    assert.ok(panel.targets.length > 0, `${panel.title} has no query`);
    for (const target of panel.targets) {
      const expr = expandGrafanaVariables(target.expr);
      assert.deepEqual(unknownReferences(expr, families, recorded), [], `${panel.title}: ${expr}`);
      checked++;
    }
  }
  assert.ok(checked >= 10, `${checked} queries`);
});

Deno.test("the dashboard has the panels an operator looks for, each on the data source variable", async () => {
  const all = await panels();
  assert.equal(new Set(all.map((panel) => panel.id)).size, all.length, "panel ids are unique");
  for (const panel of all) assert.equal(panel.datasource.uid, "${datasource}", panel.title);
  const selects = (metric: string, grouping?: string[]) =>
    all.some((panel) =>
      panel.targets.some((target) => {
        const refs = promqlReferences(expandGrafanaVariables(target.expr));
        return refs.selectors.some((selector) => selector.metric === metric) &&
          (grouping === undefined ||
            refs.groupings.some((group) =>
              grouping.every((label) => group.labels.includes(label))
            ));
      })
    );
  assert.ok(selects("dotproxy_dns_responses_total", ["proto", "rcode"]), "QPS by transport, rcode");
  assert.ok(selects("dotproxy_dns_request_duration_seconds_bucket"), "latency");
  assert.ok(all.some((panel) => panel.type === "heatmap"), "latency histogram");
  assert.ok(selects("dotproxy_cache_requests_total"), "cache hit ratio");
  assert.ok(selects("dotproxy_upstream_request_duration_seconds_bucket", ["to"]), "upstream RTT");
  assert.ok(selects("dotproxy_upstream_up"), "upstream health");
  assert.ok(selects("dotproxy_upstream_tls_connections"), "connections");
});
