/**
 * One measured dnsperf run against a running proxy: warm-up, then `-v` to
 * get each answer's latency, with the proxy's CPU time read from /proc
 * around the run. Used by `deno task bench` (bench.ts, signed_zone.ts).
 *
 * @module
 */

/** Settings shared by every run. */
export interface RunSettings {
  /** Measured seconds. */
  readonly duration: string;
  /** dnsperf `-c`. */
  readonly clients: string;
  /** dnsperf `-q`. */
  readonly outstanding: string;
}

/** What one run measured. */
export interface RunResult {
  readonly qps: number;
  /** Answers with an rcode other than NOERROR and NXDOMAIN. */
  readonly errors: number;
  readonly lost: number;
  readonly avgMs: number;
  readonly p99Ms: number;
  /** CPU time of the proxy per 1000 good answers. */
  readonly cpuMsPer1k: number;
  readonly peakRssMiB: number;
}

/** One run: the proxy, its port and the query file maker. */
export interface RunTarget {
  readonly port: number;
  readonly pid: number;
  /** A fresh query file (dnsperf `-d`), e.g. unique names never asked before. */
  readonly names: () => Promise<string>;
  readonly tcp?: boolean;
}

const GOOD = new Set(["NOERROR", "NXDOMAIN"]);

/** CPU time of a process in ms (utime + stime; clock ticks of 1/100 s). */
function cpuMs(pid: number): number {
  const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function peakRssMiB(pid: number): number {
  const line = Deno.readTextFileSync(`/proc/${pid}/status`).match(/VmHWM:\s+(\d+) kB/);
  return Number(line?.[1] ?? 0) / 1024;
}

/** Latencies of good answers from dnsperf -v lines (`> RCODE NAME TYPE SECONDS`). */
function p99(text: string): number {
  const latencies: number[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("> ")) continue;
    const fields = line.split(/\s+/);
    if (fields.length >= 5 && GOOD.has(fields[1]!)) latencies.push(Number(fields.at(-1)));
  }
  if (latencies.length === 0) return 0;
  latencies.sort((a, b) => a - b);
  return latencies[Math.min(latencies.length - 1, Math.floor(0.99 * latencies.length))]! * 1000;
}

/**
 * Warms up for 2 s, then measures for `settings.duration` seconds.
 *
 * @param target The proxy and its queries.
 * @param settings Duration and load.
 * @returns The figures of the measured part.
 */
export async function measure(target: RunTarget, settings: RunSettings): Promise<RunResult> {
  const args = async () => [
    ...["-s", "127.0.0.1", "-p", String(target.port), "-d", await target.names()],
    ...["-c", settings.clients, "-q", settings.outstanding, ...(target.tcp ? ["-m", "tcp"] : [])],
  ];
  await new Deno.Command("dnsperf", { args: [...await args(), "-l", "2"] }).output();
  Deno.writeTextFileSync(`/proc/${target.pid}/clear_refs`, "5"); // reset the RSS high-water mark
  const runArgs = [...await args(), "-l", settings.duration, "-v"];
  const before = cpuMs(target.pid);
  const { stdout } = await new Deno.Command("dnsperf", { args: runArgs }).output();
  const used = cpuMs(target.pid) - before;
  const text = new TextDecoder().decode(stdout);
  const rcodes = [
    ...(text.match(/Response codes:\s+(.*)/)?.[1] ?? "").matchAll(/([A-Z]+) (\d+) \(/g),
  ];
  const good = rcodes.filter(([, code]) => GOOD.has(code!)).reduce(
    (n, [, , c]) => n + Number(c),
    0,
  );
  const all = rcodes.reduce((n, [, , count]) => n + Number(count), 0);
  const seconds = Number(text.match(/Run time \(s\):\s+([\d.]+)/)?.[1] ?? settings.duration);
  return {
    qps: good / seconds,
    errors: all - good,
    lost: Number(text.match(/Queries lost:\s+(\d+)/)?.[1] ?? 0),
    avgMs: Number(text.match(/Average Latency \(s\):\s+([\d.]+)/)?.[1] ?? 0) * 1000,
    p99Ms: p99(text),
    cpuMsPer1k: good > 0 ? used / (good / 1000) : 0,
    peakRssMiB: peakRssMiB(target.pid),
  };
}

/**
 * A markdown table row.
 *
 * @param name The first cell.
 * @param result The figures.
 * @returns The row.
 */
export function row(name: string, result: RunResult): string {
  return `| ${name} | ${Math.round(result.qps).toLocaleString("en")} | ${result.errors} | ` +
    `${result.lost} | ${result.avgMs.toFixed(2)} | ${result.p99Ms.toFixed(2)} | ` +
    `${result.cpuMsPer1k.toFixed(1)} | ${result.peakRssMiB.toFixed(1)} |`;
}

/** The header of the table {@linkcode row} fills. */
export const TABLE_HEADER = "| scenario | QPS | errors | lost | avg ms | p99 ms | CPU ms/1k q | " +
  "peak RSS MiB |\n|---|--:|--:|--:|--:|--:|--:|--:|";

/** Query files made during the run, removed at the end. */
const tempFiles: string[] = [];

/**
 * Writes a query file: `count` lines from `line(i)`.
 *
 * @param count Lines.
 * @param line The line for index i (`NAME TYPE`).
 * @returns Its path.
 */
export async function queryFile(count: number, line: (i: number) => string): Promise<string> {
  const path = await Deno.makeTempFile({ prefix: "dotproxy-bench-" });
  tempFiles.push(path);
  await Deno.writeTextFile(
    path,
    Array.from({ length: count }, (_, i) => line(i)).join("\n") + "\n",
  );
  return path;
}

/** Removes the query files written so far. */
export async function removeQueryFiles(): Promise<void> {
  for (const file of tempFiles.splice(0)) await Deno.remove(file).catch(() => {});
}

/**
 * Writes a line to stdout.
 *
 * @param line The text.
 */
export function print(line: string): void {
  Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
}
