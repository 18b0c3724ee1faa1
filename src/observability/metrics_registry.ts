/**
 * A small Prometheus metrics registry: counters, gauges read when scraped,
 * and histograms, rendered in the text exposition format (version 0.0.4).
 *
 * Recording is cheap on purpose: each labelled series is an object found
 * once and kept by the caller, so the per-query cost is an addition.
 *
 * @module
 */

/** One counter series. */
export interface CounterSeries {
  /** Adds `n` (default 1). */
  inc(n?: number): void;
}

/** One histogram series. */
export interface HistogramSeries {
  /** Records one observation (seconds, bytes...). */
  observe(value: number): void;
}

interface Metric {
  readonly name: string;
  render(): string;
}

/** Label values joined by this (a character no label value here contains). */
const SEPARATOR = "\u0000";

/** A counter with labels. */
export class Counter implements Metric {
  readonly name: string;
  readonly #help: string;
  readonly #labels: readonly string[];
  readonly #series = new Map<string, { value: number; inc(n?: number): void }>();

  /**
   * @param name Metric name, ending in `_total`.
   * @param help One line of help.
   * @param labels Label names.
   */
  constructor(name: string, help: string, labels: readonly string[] = []) {
    this.name = name;
    this.#help = help;
    this.#labels = labels;
  }

  /**
   * The series for these label values, created at 0 on first use.
   *
   * @param values One value per label, in order.
   * @returns The series.
   */
  with(...values: string[]): CounterSeries {
    const key = values.join(SEPARATOR);
    let series = this.#series.get(key);
    if (series === undefined) {
      const created = { value: 0, inc: (n = 1) => void (created.value += n) };
      series = created;
      this.#series.set(key, series);
    }
    return series;
  }

  /** @returns The series in the text format. */
  render(): string {
    let text = header(this.name, this.#help, "counter");
    for (const [key, series] of this.#series) {
      text += `${this.name}${labelSet(this.#labels, key)} ${series.value}\n`;
    }
    return text;
  }
}

/** A gauge whose series are read from the proxy when scraped. */
export class Gauge implements Metric {
  readonly name: string;
  readonly #help: string;
  readonly #labels: readonly string[];
  readonly #collect: () => Iterable<readonly [readonly string[], number]>;

  /**
   * @param name Metric name.
   * @param help One line of help.
   * @param labels Label names.
   * @param collect Returns each series' label values and current value.
   */
  constructor(
    name: string,
    help: string,
    labels: readonly string[],
    collect: () => Iterable<readonly [readonly string[], number]>,
  ) {
    this.name = name;
    this.#help = help;
    this.#labels = labels;
    this.#collect = collect;
  }

  /** @returns The series in the text format. */
  render(): string {
    let text = header(this.name, this.#help, "gauge");
    for (const [values, value] of this.#collect()) {
      text += `${this.name}${labelSet(this.#labels, values.join(SEPARATOR))} ${value}\n`;
    }
    return text;
  }
}

interface Buckets {
  readonly counts: number[];
  sum: number;
  count: number;
  observe(value: number): void;
}

/** A histogram with labels and fixed bucket bounds. */
export class Histogram implements Metric {
  readonly name: string;
  readonly #help: string;
  readonly #labels: readonly string[];
  readonly #bounds: readonly number[];
  readonly #series = new Map<string, Buckets>();

  /**
   * @param name Metric name, ending in the unit (`_seconds`).
   * @param help One line of help.
   * @param labels Label names.
   * @param bounds Upper bounds of the buckets, ascending (+Inf is implied).
   */
  constructor(name: string, help: string, labels: readonly string[], bounds: readonly number[]) {
    this.name = name;
    this.#help = help;
    this.#labels = labels;
    this.#bounds = bounds;
  }

  /**
   * The series for these label values.
   *
   * @param values One value per label, in order.
   * @returns The series.
   */
  with(...values: string[]): HistogramSeries {
    const key = values.join(SEPARATOR);
    let series = this.#series.get(key);
    if (series === undefined) {
      const bounds = this.#bounds;
      const created: Buckets = {
        counts: new Array(bounds.length + 1).fill(0),
        sum: 0,
        count: 0,
        observe(value: number) {
          let i = 0;
          while (i < bounds.length && value > bounds[i]!) i++;
          created.counts[i]!++;
          created.sum += value;
          created.count++;
        },
      };
      series = created;
      this.#series.set(key, series);
    }
    return series;
  }

  /** @returns The series in the text format, buckets cumulative. */
  render(): string {
    let text = header(this.name, this.#help, "histogram");
    for (const [key, series] of this.#series) {
      let cumulative = 0;
      for (let i = 0; i <= this.#bounds.length; i++) {
        cumulative += series.counts[i]!;
        const le = i < this.#bounds.length ? String(this.#bounds[i]) : "+Inf";
        const labels = labelSet([...this.#labels, "le"], key === "" ? le : key + SEPARATOR + le);
        text += `${this.name}_bucket${labels} ${cumulative}\n`;
      }
      text += `${this.name}_sum${labelSet(this.#labels, key)} ${series.sum}\n`;
      text += `${this.name}_count${labelSet(this.#labels, key)} ${series.count}\n`;
    }
    return text;
  }
}

/** Metrics in registration order, rendered together. */
export class Registry {
  readonly #metrics: Metric[] = [];

  /**
   * Adds a metric.
   *
   * @param metric The metric.
   * @returns The same metric, for chaining into a field.
   */
  register<T extends Metric>(metric: T): T {
    if (this.#metrics.some((m) => m.name === metric.name)) {
      throw new TypeError(`Cannot register metric ${metric.name}: already registered`);
    }
    this.#metrics.push(metric);
    return metric;
  }

  /** @returns Every metric in the Prometheus text format. */
  render(): string {
    return this.#metrics.map((metric) => metric.render()).join("");
  }
}

function header(name: string, help: string, type: string): string {
  return `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
}

function labelSet(names: readonly string[], key: string): string {
  if (names.length === 0) return "";
  const values = key.split(SEPARATOR);
  return "{" + names.map((name, i) => `${name}="${escapeLabel(values[i] ?? "")}"`).join(",") + "}";
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}
