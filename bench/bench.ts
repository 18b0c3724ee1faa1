/**
 * `deno task bench`: dnsperf against dotproxy forwarding over DNS-over-TLS to
 * a local Unbound, so anyone can reproduce the figures in the README on their
 * own machine (loopback only). Installs dnsperf and Unbound with apt-get when
 * they are missing and it runs as root.
 *
 * Scenarios (as in the shared harness the README's comparison comes from):
 * udp-uncached (unique names, every query forwarded), udp-cached (100
 * repeated names), tcp-uncached (unique names over 10 TCP connections);
 * then hedge (two in-process upstreams, one of them slow now and then:
 * p99 with and without hedged queries, see hedge_scenario.ts); then signed
 * (a signed hierarchy: the CPU cost of DNSSEC validation per uncached query,
 * `--dnssec validate` against `off`, see signed_zone.ts).
 *
 * Usage: deno task bench [--duration S] [--clients N] [--outstanding N] [--workers N|auto]
 *   [--only dnsperf|hedge|signed] [--hedge-queries N] [--hedge-rate QPS]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { startUnbound } from "../tests/_util/unbound.ts";
import { deadPort } from "../tests/_util/proxy_fixture.ts";
import { dotproxy, forwardingArgs } from "../tests/_util/cli.ts";
import { runHedgeScenario } from "./hedge_scenario.ts";
import { runSignedZoneScenario } from "./signed_zone.ts";
import { measure, removeQueryFiles, row, TABLE_HEADER } from "./dnsperf_run.ts";
import { type RssBreakdown, rssBreakdown } from "./rss_breakdown.ts";

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    clients: { type: "string", default: "10" },
    outstanding: { type: "string", default: "200" },
    workers: { type: "string", default: "auto" },
    only: { type: "string" },
    "hedge-queries": { type: "string", default: "10000" },
    "hedge-rate": { type: "string", default: "500" },
  },
});

function print(line: string): void {
  Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
}

async function ensureTools(): Promise<void> {
  const missing: string[] = [];
  const tools = [["dnsperf", "dnsperf"], ["unbound", "unbound"], ["nsd", "nsd"], [
    "ldns-signzone",
    "ldnsutils",
  ]];
  for (const [tool, pkg] of tools) {
    const found = await new Deno.Command("sh", {
      args: ["-c", `command -v ${tool} || test -x /usr/sbin/${tool}`],
    })
      .output();
    if (!found.success) missing.push(pkg!);
  }
  if (missing.length === 0) return;
  print(`installing ${missing.join(" ")} with apt-get`);
  const install = await new Deno.Command("apt-get", {
    args: ["install", "-y", "--no-install-recommends", ...missing],
    env: { DEBIAN_FRONTEND: "noninteractive" },
  }).output();
  if (!install.success) {
    throw new Error(`apt-get install ${missing.join(" ")} failed (run as root)`);
  }
}

const tempFiles: string[] = [];

async function namesFile(kind: "unique" | "repeated"): Promise<string> {
  const path = await Deno.makeTempFile({ prefix: `dotproxy-bench-${kind}-` });
  tempFiles.push(path);
  const lines = kind === "unique"
    ? Array.from(
      { length: 600_000 },
      (_, i) => `q${i}.${crypto.randomUUID().slice(0, 8)}.u.e2e.test A`,
    )
    : Array.from({ length: 100 }, (_, i) => `r${i}.u.e2e.test A`);
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
  return path;
}

/** Resident memory by kind of mapping, at the end of each scenario (MiB, see rss_breakdown.ts). */
const breakdowns: [string, RssBreakdown][] = [];

function printBreakdowns(): void {
  const mib = (kib: number) => (kib / 1024).toFixed(1);
  print("");
  print("RSS at the end of each run, by mapping (MiB; see bench/rss_breakdown.ts):");
  print(
    "| when | binary file | binary+libs private | other files | malloc | V8 heap | stacks | other anon | total |",
  );
  print("|---|--:|--:|--:|--:|--:|--:|--:|--:|");
  for (const [when, b] of breakdowns) {
    print(
      `| ${when} | ${mib(b.binaryFile)} | ${mib(b.binaryPrivate)} | ${mib(b.otherFiles)} | ` +
        `${mib(b.malloc)} | ${mib(b.v8Heap)} | ${mib(b.stacks)} | ${mib(b.otherAnon)} | ${
          mib(b.total)
        } |`,
    );
  }
}

async function runScenario(
  name: string,
  port: number,
  pid: number,
  kind: "unique" | "repeated",
  tcp: boolean,
) {
  // Warm up (fills the cache in the cached scenario), then measure; unique
  // names come from a fresh file each time, so that none is in the cache.
  const settings = {
    duration: values.duration!,
    clients: values.clients!,
    outstanding: values.outstanding!,
  };
  const result = await measure({ port, pid, names: () => namesFile(kind), tcp }, settings);
  breakdowns.push([name, rssBreakdown(pid)]);
  print(row(name, result));
}

async function runDnsperfScenarios(): Promise<void> {
  await ensureTools();
  await using unbound = await startUnbound();
  const port = deadPort();
  // The proxy logs warnings only, so its stderr pipe never fills during a run.
  const proxy = dotproxy([
    ...forwardingArgs(port, unbound.dotPort, unbound.caFile, unbound.tlsName),
    ...["--log-level", "warning"],
    ...["--workers", values.workers],
  ]).spawn();
  try {
    await new Promise((resolve) => setTimeout(resolve, 1500));
    print(
      `dotproxy bench: ${values.duration} s per run, dnsperf -c ${values.clients} -q ${values.outstanding}, --workers ${values.workers}`,
    );
    breakdowns.push(["idle", rssBreakdown(proxy.pid)]);
    print(TABLE_HEADER);
    await runScenario("udp-uncached", port, proxy.pid, "unique", false);
    await runScenario("udp-cached", port, proxy.pid, "repeated", false);
    await runScenario("tcp-uncached", port, proxy.pid, "unique", true);
    printBreakdowns();
  } finally {
    for (const file of tempFiles) await Deno.remove(file);
    proxy.kill("SIGTERM");
    const { stderr } = await proxy.output();
    Deno.stderr.writeSync(stderr);
  }
}

if (values.only === undefined || values.only === "dnsperf") await runDnsperfScenarios();
if (values.only === undefined || values.only === "hedge") {
  await runHedgeScenario({
    queries: Number(values["hedge-queries"]),
    rate: Number(values["hedge-rate"]),
    print,
  });
}
if (values.only === undefined || values.only === "signed") {
  await ensureTools();
  try {
    await runSignedZoneScenario({
      duration: values.duration!,
      clients: values.clients!,
      outstanding: values.outstanding!,
    });
  } finally {
    await removeQueryFiles();
  }
}
