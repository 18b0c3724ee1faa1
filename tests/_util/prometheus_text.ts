/**
 * A strict parser of the Prometheus text exposition format (0.0.4), for
 * tests: it rejects what Prometheus would reject (bad names, bad label
 * syntax, unescaped quotes, samples of a family without its TYPE, duplicate
 * series, histograms whose buckets are not cumulative or lack +Inf).
 *
 * @module
 */

/** One sample. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** One metric family. */
export interface Family {
  readonly name: string;
  readonly type: string;
  readonly help: string;
  readonly samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

/**
 * Parses an exposition; throws an Error naming the line on any violation.
 *
 * @param text The response body of /metrics.
 * @returns Families by name.
 */
export function parsePrometheusText(text: string): Map<string, Family> {
  if (!text.endsWith("\n")) throw new Error("Exposition must end with a newline");
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  const lines = text.slice(0, -1).split("\n");
  for (const [index, line] of lines.entries()) {
    const where = `line ${index + 1}: ${line}`;
    if (line.startsWith("# HELP ") || line.startsWith("# TYPE ")) {
      const [, keyword, name, ...rest] = line.split(" ");
      if (!NAME.test(name ?? "")) throw new Error(`Bad metric name, ${where}`);
      const family = families.get(name!) ?? { name: name!, type: "", help: "", samples: [] };
      if (keyword === "TYPE") {
        if (family.type !== "" || !TYPES.has(rest.join(" "))) throw new Error(`Bad TYPE, ${where}`);
        if (family.samples.length > 0) throw new Error(`TYPE after samples, ${where}`);
        families.set(name!, { ...family, type: rest.join(" ") });
      } else {
        families.set(name!, { ...family, help: rest.join(" ") });
      }
      continue;
    }
    if (line.startsWith("#") || line === "") continue;
    const sample = parseSample(line, where);
    const family = familyOf(families, sample.name);
    if (family === undefined || family.type === "") {
      throw new Error(`Sample without a TYPE for its family, ${where}`);
    }
    const id = sample.name + JSON.stringify(Object.entries(sample.labels).sort());
    if (seen.has(id)) throw new Error(`Duplicate series, ${where}`);
    seen.add(id);
    family.samples.push(sample);
  }
  for (const family of families.values()) {
    if (family.type === "histogram") checkHistogram(family);
  }
  return families;
}

function familyOf(families: Map<string, Family>, name: string): Family | undefined {
  const direct = families.get(name);
  if (direct !== undefined) return direct;
  const base = name.replace(/_(bucket|sum|count)$/, "");
  const family = families.get(base);
  return family?.type === "histogram" || family?.type === "summary" ? family : undefined;
}

function parseSample(line: string, where: string): Sample {
  const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line);
  if (match === null) throw new Error(`Bad sample, ${where}`);
  const value = parseValue(match[4]!, where);
  return { name: match[1]!, labels: parseLabels(match[3] ?? "", where), value };
}

function parseValue(text: string, where: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  if (!/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`Bad value, ${where}`);
  return Number(text);
}

function parseLabels(text: string, where: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = text;
  while (rest !== "") {
    const match = /^([^=]+)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/.exec(rest);
    if (match === null || !LABEL_NAME.test(match[1]!)) throw new Error(`Bad labels, ${where}`);
    if (match[1]! in labels) throw new Error(`Duplicate label, ${where}`);
    labels[match[1]!] = match[2]!.replace(/\\(["\\n])/g, (_, c) => c === "n" ? "\n" : c);
    rest = rest.slice(match[0].length);
  }
  return labels;
}

function checkHistogram(family: Family): void {
  const groups = new Map<string, { buckets: [number, number][]; count?: number }>();
  for (const sample of family.samples) {
    const { le, ...others } = sample.labels;
    const key = JSON.stringify(Object.entries(others).sort());
    const group = groups.get(key) ?? { buckets: [] };
    groups.set(key, group);
    if (sample.name === `${family.name}_bucket`) {
      if (le === undefined) throw new Error(`${family.name}: bucket without le`);
      group.buckets.push([parseValue(le, family.name), sample.value]);
    } else if (sample.name === `${family.name}_count`) {
      group.count = sample.value;
    }
  }
  for (const group of groups.values()) {
    const last = group.buckets.at(-1);
    if (last === undefined || last[0] !== Infinity) {
      throw new Error(`${family.name}: no +Inf bucket`);
    }
    for (let i = 1; i < group.buckets.length; i++) {
      const [previous, current] = [group.buckets[i - 1]!, group.buckets[i]!];
      if (current[0] <= previous[0] || current[1] < previous[1]) {
        throw new Error(`${family.name}: buckets not ascending and cumulative`);
      }
    }
    if (group.count !== last[1]) throw new Error(`${family.name}: +Inf bucket differs from _count`);
  }
}

/**
 * The value of one series, 0 when absent.
 *
 * @param families Parsed exposition.
 * @param name Sample name.
 * @param labels Labels that must match (others ignored).
 * @returns The value.
 */
export function valueOf(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number {
  const family = familyOf(families, name);
  const sample = family?.samples.find((s) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  );
  return sample?.value ?? 0;
}
