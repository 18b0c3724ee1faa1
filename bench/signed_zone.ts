/**
 * The signed-zone scenario of `deno task bench`: what DNSSEC validation
 * costs per uncached query. The signed hierarchy of the DNSSEC tests
 * (tests/_util/signed_hierarchy.ts: ldns-signzone, NSD, an Unbound that
 * does not validate, over DoT) is built; dnsperf asks unique names under a
 * signed wildcard (`*.wild.alg13.zz`, ECDSA P-256 with NSEC3, and
 * `*.wild.alg8.zz`, RSA/SHA-256 with NSEC), so that every query misses
 * every cache and is answered through Unbound from NSD. Each answer is a
 * wildcard expansion: validating it checks the A RRset's signature and the
 * signed NSEC or NSEC3 proof that the name asked does not exist (two
 * signature checks, plus one NSEC3 hash; an answer for a name that exists
 * needs one check).
 *
 * For each zone, a fresh proxy (one worker) runs with `--dnssec validate
 * --trust-anchor-file` (the test root's DS) and with `--dnssec off`,
 * alternately (off, validate, off, validate: the host's load drifts), and
 * the table gives each run and the cost per query: the difference in CPU
 * time per 1000 answers between the medians of the two modes.
 *
 * @module
 */

import { startSignedHierarchy } from "../tests/_util/signed_hierarchy.ts";
import { deadPort } from "../tests/_util/proxy_fixture.ts";
import { dotproxy, forwardingArgs, waitUntilAnswering } from "../tests/_util/cli.ts";
import { measure, print, queryFile, row, type RunResult, type RunSettings } from "./dnsperf_run.ts";

/** The zones measured: a wildcard under each, and a label for the table. */
const ZONES = [
  { zone: "wild.alg13.zz", label: "ECDSA P-256, NSEC3" },
  { zone: "wild.alg8.zz", label: "RSA/SHA-256 1024-bit, NSEC" },
] as const;

/** Measured runs per mode and zone, alternating. */
const ROUNDS = 2;

/** Names written per query file: more than any run can ask at 50k QPS. */
function namesPerFile(settings: RunSettings): number {
  return Math.max(100_000, 50_000 * Number(settings.duration));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Runs the scenario and prints its table.
 *
 * @param settings Duration and load of each run.
 */
export async function runSignedZoneScenario(settings: RunSettings): Promise<void> {
  await using hierarchy = await startSignedHierarchy();
  const { unbound } = hierarchy;
  print("");
  print(
    `signed zone: unique names under a signed wildcard, every query uncached; ` +
      `${ROUNDS} runs per mode, alternating`,
  );
  print(TABLE_HEADER_SIGNED);
  const summary: string[] = [];
  for (const { zone, label } of ZONES) {
    const results: Record<"off" | "validate", RunResult[]> = { off: [], validate: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of ["off", "validate"] as const) {
        const port = deadPort();
        const dnssec = mode === "validate"
          ? ["--dnssec", "validate", "--trust-anchor-file", hierarchy.anchorFile]
          : ["--dnssec", "off"];
        const proxy = dotproxy([
          ...forwardingArgs(port, unbound.dotPort, unbound.caFile, unbound.tlsName),
          ...dnssec,
          ...["--log-level", "error"],
          // One worker: the figure is the cost per query, without the shared cache's.
          ...["--workers", "1"],
        ]).spawn();
        try {
          if (!await waitUntilAnswering(port)) throw new Error("the proxy did not answer");
          // A fresh tag per file: the warm-up's names are never asked again.
          const names = () => {
            const tag = crypto.randomUUID().slice(0, 8);
            return queryFile(namesPerFile(settings), (i) => `q${i}.${tag}.${zone} A`);
          };
          const result = await measure({ port, pid: proxy.pid, names }, settings);
          results[mode].push(result);
          print(row(`${zone} (${label}), --dnssec ${mode}, run ${round + 1}`, result));
        } finally {
          proxy.kill("SIGTERM");
          await proxy.output();
        }
      }
    }
    // CPU ms per 1000 queries is CPU µs per query.
    const cpu = (mode: "off" | "validate") => median(results[mode].map((r) => r.cpuMsPer1k));
    const qps = (mode: "off" | "validate") => median(results[mode].map((r) => r.qps));
    const p99 = (mode: "off" | "validate") => median(results[mode].map((r) => r.p99Ms));
    summary.push(
      `| ${label} | ${Math.round(qps("off")).toLocaleString("en")} / ` +
        `${Math.round(qps("validate")).toLocaleString("en")} | ` +
        `${p99("off").toFixed(2)} / ${p99("validate").toFixed(2)} | ` +
        `${cpu("off").toFixed(1)} / ${cpu("validate").toFixed(1)} | ` +
        `${(cpu("validate") - cpu("off")).toFixed(1)} µs |`,
    );
  }
  print("");
  print("medians, --dnssec off / validate:");
  print("| zone | QPS | p99 ms | CPU ms/1k q | validation CPU per uncached query |");
  print("|---|--:|--:|--:|--:|");
  for (const line of summary) print(line);
}

const TABLE_HEADER_SIGNED = "| run | QPS | errors | lost | avg ms | p99 ms | CPU ms/1k q | " +
  "peak RSS MiB |\n|---|--:|--:|--:|--:|--:|--:|--:|";
