// The alert and recording rules of deploy/prometheus/ checked by Prometheus's
// own promtool (syntax, then the unit tests of dotproxy.rules.test.yml), the
// metric and label names they use checked against a real proxy's /metrics,
// and that /metrics itself checked by `promtool check metrics`.

import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix -- pinned here, not in deno.json: docs/development.md
import { parse as parseYaml } from "npm:yaml@2.9.1";
import { requireTool } from "./_util/tools.ts";
import { scrapeAnsweringProxy } from "./_util/metrics_scrape.ts";
import { parsePrometheusText } from "./_util/prometheus_text.ts";
import { unknownReferences } from "./_util/promql.ts";

const DIR = new URL("../deploy/prometheus/", import.meta.url).pathname;
const RULES = `${DIR}dotproxy.rules.yml`;

interface RuleFile {
  groups: { name: string; rules: { record?: string; alert?: string; expr: string }[] }[];
}

/** Runs promtool in deploy/prometheus/ with `stdin` as its input; returns code and output. */
async function promtool(args: string[], stdin = ""): Promise<{ code: number; output: string }> {
  const child = new Deno.Command(requireTool("promtool", "prometheus"), {
    args,
    cwd: DIR,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(stdin));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return { code, output: decoder.decode(stdout) + decoder.decode(stderr) };
}

/** Every rule of the file. */
async function rules(): Promise<RuleFile["groups"][number]["rules"]> {
  const file = parseYaml(await Deno.readTextFile(RULES)) as RuleFile;
  return file.groups.flatMap((group) => group.rules);
}

Deno.test("promtool check rules accepts dotproxy.rules.yml", async () => {
  const { code, output } = await promtool(["check", "rules", RULES]);
  assert.equal(code, 0, output);
  assert.match(output, /SUCCESS: \d+ rules found/);
});

Deno.test("promtool test rules: each alert fires, and stays quiet, as dotproxy.rules.test.yml says", async () => {
  const { code, output } = await promtool(["test", "rules", "dotproxy.rules.test.yml"]);
  assert.equal(code, 0, output);
  assert.match(output, /SUCCESS/);
  // The tests cover every alert of the file.
  const tests = await Deno.readTextFile(`${DIR}dotproxy.rules.test.yml`);
  for (const rule of await rules()) {
    if (rule.alert !== undefined) assert.match(tests, new RegExp(`alertname: ${rule.alert}\\n`));
  }
});

Deno.test("the rules use only metrics and labels that a running proxy exports", async () => {
  const families = parsePrometheusText(await scrapeAnsweringProxy());
  const all = await rules();
  const recorded = new Set(all.flatMap((rule) => rule.record ?? []));
  assert.ok(recorded.size > 0 && all.some((rule) => rule.alert !== undefined));
  for (const rule of all) {
    assert.deepEqual(
      unknownReferences(rule.expr, families, recorded),
      [],
      `${rule.record ?? rule.alert}: ${rule.expr}`,
    );
  }
});

Deno.test("the rules' check fails on a metric or label the proxy does not export", async () => {
  const families = parsePrometheusText(await scrapeAnsweringProxy());
  const none = new Set<string>();
  assert.deepEqual(unknownReferences("rate(dotproxy_nope_total[5m])", families, none), [
    "unknown metric dotproxy_nope_total",
  ]);
  assert.deepEqual(
    unknownReferences('dotproxy_upstream_up{upstream="x"}', families, none),
    ["dotproxy_upstream_up has no label upstream"],
  );
  assert.deepEqual(
    unknownReferences("sum by (qtype) (rate(dotproxy_dns_requests_total[5m]))", families, none),
    ["grouping by qtype, which dotproxy_dns_requests_total lack"],
  );
  assert.deepEqual(
    unknownReferences("dotproxy_dns_request_duration_seconds_bucket", families, none),
    [],
  );
  assert.deepEqual(unknownReferences("dotproxy_cache_entries_bucket", families, none), [
    "unknown metric dotproxy_cache_entries_bucket",
  ]);
  assert.throws(() => unknownReferences("sum(rate(x[5m])", families, none), SyntaxError);
});

Deno.test("promtool check metrics accepts the /metrics of a proxy that has answered queries", async () => {
  const text = await scrapeAnsweringProxy();
  const families = parsePrometheusText(text);
  // The scrape has the series the rules are about, not only their HELP lines.
  for (const name of ["dotproxy_dns_responses_total", "dotproxy_upstream_failures_total"]) {
    assert.ok((families.get(name)?.samples.length ?? 0) > 0, name);
  }
  const { code, output } = await promtool(["check", "metrics"], text);
  assert.equal(code, 0, output);
  assert.equal(output.trim(), "", "promtool reports no lint problem");
});
