import assert from "node:assert/strict";
import { parsePrometheusText, valueOf } from "../../tests/_util/prometheus_text.ts";
import { Counter, Gauge, Histogram, Registry } from "./metrics_registry.ts";

Deno.test("Registry renders counters, gauges and histograms as valid Prometheus text", () => {
  const registry = new Registry();
  const counter = registry.register(new Counter("x_total", "Xs.", ["kind"]));
  registry.register(new Gauge("y", "Y.", [], () => [[[], 7]]));
  const histogram = registry.register(new Histogram("z_seconds", "Z.", ["to"], [0.1, 1]));
  counter.with("a").inc();
  counter.with("a").inc(2);
  counter.with('b"\\').inc();
  histogram.with("u").observe(0.05);
  histogram.with("u").observe(0.5);
  histogram.with("u").observe(5);
  const families = parsePrometheusText(registry.render());
  assert.equal(valueOf(families, "x_total", { kind: "a" }), 3);
  assert.equal(valueOf(families, "x_total", { kind: 'b"\\' }), 1);
  assert.equal(valueOf(families, "y"), 7);
  assert.equal(valueOf(families, "z_seconds_bucket", { to: "u", le: "0.1" }), 1);
  assert.equal(valueOf(families, "z_seconds_bucket", { to: "u", le: "1" }), 2);
  assert.equal(valueOf(families, "z_seconds_bucket", { to: "u", le: "+Inf" }), 3);
  assert.equal(valueOf(families, "z_seconds_sum", { to: "u" }), 5.55);
});

Deno.test("Registry refuses two metrics with one name", () => {
  const registry = new Registry();
  registry.register(new Counter("x_total", "Xs."));
  assert.throws(() => registry.register(new Counter("x_total", "Again.")), TypeError);
});
