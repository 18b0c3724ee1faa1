/**
 * One `/metrics` page for the whole proxy from the pages of its workers:
 * each worker renders its own registry, and the supervisor adds up the
 * series that have the same name and labels (counters, histogram buckets,
 * sums and counts, and gauges of per-worker things such as open
 * connections). Series that describe something every worker shares are
 * taken once, not added (the shared cache's gauges, the build info), and an
 * upstream's up state is the largest (1 while any worker uses it).
 *
 * @module
 */

/** Families whose series are the same in every worker: taken from the first page. */
export const SHARED_FAMILIES: ReadonlySet<string> = new Set([
  "dotproxy_build_info",
  "dotproxy_cache_entries",
  "dotproxy_cache_size_bytes",
  "dotproxy_cache_evictions_total",
]);

/** Families of per-worker 0/1 states: the largest value (1 while any worker uses the upstream). */
export const MAX_FAMILIES: ReadonlySet<string> = new Set(["dotproxy_upstream_up"]);

interface Family {
  readonly header: string[];
  /** Series by their name and labels, in first-seen order. */
  readonly samples: Map<string, number>;
}

/**
 * Adds up Prometheus text pages series by series.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { mergeMetrics } from "./merge_metrics.ts";
 *
 * const page = (n: number) => `# HELP q_total Queries.\n# TYPE q_total counter\nq_total{proto="udp"} ${n}\n`;
 * assert.equal(mergeMetrics([page(2), page(3)]), page(5));
 * ```
 *
 * @param pages Pages in the text exposition format, each family introduced by `# HELP`.
 * @returns One page with every family once.
 */
export function mergeMetrics(pages: readonly string[]): string {
  const families = new Map<string, Family>();
  pages.forEach((page, index) => {
    let family: Family | null = null;
    let name = "";
    for (const line of page.split("\n")) {
      if (line === "") continue;
      if (line.startsWith("# HELP ") || line.startsWith("# TYPE ")) {
        const named = line.split(" ")[2]!;
        if (named !== name || family === null) {
          name = named;
          family = families.get(name) ?? null;
          if (family === null) {
            family = { header: [], samples: new Map() };
            families.set(name, family);
          }
        }
        if (!family.header.includes(line)) family.header.push(line);
        continue;
      }
      if (family === null || line.startsWith("#")) continue;
      const space = line.lastIndexOf(" ");
      const series = line.slice(0, space);
      const value = Number(line.slice(space + 1));
      const previous = family.samples.get(series);
      if (previous === undefined) family.samples.set(series, value);
      else if (MAX_FAMILIES.has(name)) family.samples.set(series, Math.max(previous, value));
      else if (!SHARED_FAMILIES.has(name) || index === 0) {
        family.samples.set(series, previous + value);
      }
    }
  });
  let text = "";
  for (const family of families.values()) {
    text += family.header.map((line) => line + "\n").join("");
    for (const [series, value] of family.samples) text += `${series} ${value}\n`;
  }
  return text;
}

/**
 * The part of a page that only grows: counter and histogram families
 * (buckets, sums and counts), without gauges and without the
 * {@linkcode SHARED_FAMILIES}. When a worker dies, the supervisor adds its
 * last page's part to every later page, so that the totals never go down
 * (Prometheus would read a drop as a counter reset).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { monotonicPart } from "./merge_metrics.ts";
 *
 * const page = "# HELP q_total Q.\n# TYPE q_total counter\nq_total 3\n" +
 *   "# HELP open Open.\n# TYPE open gauge\nopen 2\n";
 * assert.equal(monotonicPart(page), "# HELP q_total Q.\n# TYPE q_total counter\nq_total 3\n");
 * ```
 *
 * @param page A page in the text exposition format.
 * @returns The lines of its counter and histogram families.
 */
export function monotonicPart(page: string): string {
  const types = new Map<string, string>();
  for (const line of page.split("\n")) {
    if (line.startsWith("# TYPE ")) {
      const [, , name, type] = line.split(" ");
      types.set(name!, type!);
    }
  }
  let keep = false;
  let name = "";
  let text = "";
  for (const line of page.split("\n")) {
    if (line === "") continue;
    if (line.startsWith("# HELP ") || line.startsWith("# TYPE ")) {
      name = line.split(" ")[2]!;
      const type = types.get(name);
      keep = (type === "counter" || type === "histogram") && !SHARED_FAMILIES.has(name);
    }
    if (keep) text += line + "\n";
  }
  return text;
}
