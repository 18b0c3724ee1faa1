/**
 * What a PromQL expression refers to, read with Prometheus's own grammar
 * (`@prometheus-io/lezer-promql`, the parser of the Prometheus web UI), and
 * a check of those references against the metrics a proxy really exports.
 * Used by the tests of the alert rules and of the Grafana dashboard.
 *
 * @module
 */

// deno-lint-ignore no-import-prefix -- a test-only package stays out of deno.json's imports
import { parser } from "npm:@prometheus-io/lezer-promql@0.315.0";
import type { Family } from "./prometheus_text.ts";

/** A series selector: `name{label="value", ...}`. */
export interface Selector {
  readonly metric: string;
  /** Label names its matchers use. */
  readonly labels: readonly string[];
}

/** `by (...)` or `without (...)` of an aggregation, and the selectors it aggregates. */
export interface Grouping {
  readonly labels: readonly string[];
  readonly selectors: readonly Selector[];
}

/** Every selector and grouping of an expression. */
export interface References {
  readonly selectors: readonly Selector[];
  readonly groupings: readonly Grouping[];
}

/** The part of a Lezer syntax node this module reads. */
interface Node {
  readonly name: string;
  readonly from: number;
  readonly to: number;
  readonly type: { readonly isError: boolean };
  readonly firstChild: Node | null;
  readonly nextSibling: Node | null;
}

/**
 * Parses an expression and lists what it refers to.
 *
 * @param expr PromQL.
 * @returns Its selectors and groupings.
 * @throws {SyntaxError} When the grammar does not accept it.
 */
export function promqlReferences(expr: string): References {
  const top = parser.parse(expr).topNode as unknown as Node;
  const error = find(top, (node) => node.type.isError);
  if (error.length > 0) {
    throw new SyntaxError(`Cannot parse PromQL at offset ${error[0]!.from}: ${expr}`);
  }
  const selectors = find(top, (node) => node.name === "VectorSelector").map((node) =>
    selector(expr, node)
  );
  const groupings = find(top, (node) => node.name === "AggregateExpr").flatMap((node) => {
    const modifier = children(node).find((child) => child.name === "AggregateModifier");
    if (modifier === undefined) return [];
    const labels = find(modifier, (child) => child.name === "LabelName").map((label) =>
      text(expr, label)
    );
    const inner = find(node, (child) => child.name === "VectorSelector");
    return [{ labels, selectors: inner.map((child) => selector(expr, child)) }];
  });
  return { selectors, groupings };
}

/**
 * Grafana's variables replaced by values PromQL accepts (a range for the
 * interval variables, a placeholder elsewhere: they only appear in label
 * values and ranges).
 *
 * @param expr A dashboard target's expression.
 * @returns Plain PromQL.
 */
export function expandGrafanaVariables(expr: string): string {
  return expr
    .replace(/\$(__rate_interval|__interval|__range)\b/g, "5m")
    .replace(/\$\{?[A-Za-z_][A-Za-z0-9_]*\}?/g, "x");
}

/** Labels every scraped series gets from Prometheus (target labels). */
const TARGET_LABELS = new Set(["job", "instance"]);

/**
 * Checks an expression against a scrape: each metric it selects is a family
 * of the scrape (a histogram's `_bucket`, `_sum` or `_count` included), a
 * recording rule, or Prometheus's own `up`; each label it matches or groups
 * by is one that family's samples carry (or a target label, or `le` of a
 * bucket). Labels are not checked for recording rules.
 *
 * @param expr PromQL.
 * @param families The scrape of a proxy that has answered queries.
 * @param recorded Names of recording rules.
 * @returns The problems found, empty when there is none.
 */
export function unknownReferences(
  expr: string,
  families: ReadonlyMap<string, Family>,
  recorded: ReadonlySet<string>,
): string[] {
  const problems: string[] = [];
  const labelsOf = (metric: string): Set<string> | null => {
    if (recorded.has(metric)) return null;
    if (metric === "up") return new Set(TARGET_LABELS);
    const family = families.get(metric) ??
      families.get(metric.replace(/_(bucket|sum|count)$/, ""));
    if (family === undefined || (family.name !== metric && family.type !== "histogram")) {
      problems.push(`unknown metric ${metric}`);
      return null;
    }
    const labels = new Set([...TARGET_LABELS, ...(metric.endsWith("_bucket") ? ["le"] : [])]);
    for (const sample of family.samples) {
      for (const label of Object.keys(sample.labels)) if (label !== "le") labels.add(label);
    }
    if (family.samples.length === 0) problems.push(`no samples of ${family.name} to check`);
    return labels;
  };
  const { selectors, groupings } = promqlReferences(expr);
  for (const { metric, labels } of selectors) {
    const known = labelsOf(metric);
    for (const label of labels) {
      if (known !== null && !known.has(label)) problems.push(`${metric} has no label ${label}`);
    }
  }
  for (const { labels, selectors } of groupings) {
    const known = selectors.map(({ metric }) => labelsOf(metric));
    if (known.some((set) => set === null)) continue;
    for (const label of labels) {
      if (!known.some((set) => set!.has(label))) {
        problems.push(`grouping by ${label}, which ${selectors.map((s) => s.metric)} lack`);
      }
    }
  }
  return problems;
}

function selector(expr: string, node: Node): Selector {
  const name = children(node).find((child) => child.name === "Identifier");
  if (name === undefined) {
    throw new SyntaxError(`Cannot check a selector without a metric name: ${text(expr, node)}`);
  }
  const labels = find(node, (child) => child.name === "LabelName").map((label) =>
    text(expr, label)
  );
  return { metric: text(expr, name), labels };
}

function children(node: Node): Node[] {
  const list: Node[] = [];
  for (let child = node.firstChild; child !== null; child = child.nextSibling) list.push(child);
  return list;
}

/** Nodes under `node` (itself included) that `test` accepts, in document order. */
function find(node: Node, test: (node: Node) => boolean): Node[] {
  const found: Node[] = [];
  const stack = [node];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    if (test(next)) found.push(next);
    stack.push(...children(next).reverse());
  }
  return found;
}

function text(expr: string, node: Node): string {
  return expr.slice(node.from, node.to);
}
