/**
 * The hedging scenario of `deno task bench`: dotproxy (a subprocess, as
 * users run it) forwards to two DNS-over-TLS upstreams, in order
 * (`--upstream-policy sequential`); the first holds one query in 50 for
 * 1.5 s. A client in this process sends unique-name queries over UDP at a
 * fixed rate (open loop: a held query does not slow the sending, so both
 * runs carry the same load) and measures each one's latency, once with
 * `--hedge off` and once with the default `--hedge auto`.
 *
 * Reported per run: latency percentiles, and the upstream queries per client
 * query beyond one (the hedges' extra load) and the hedges that won, from
 * the proxy's own metrics. The upstreams run in a process of their own
 * (hedge_upstreams.ts), so that their work does not delay the client.
 *
 * @module
 */

import { buildQuery } from "../tests/_util/dns_client.ts";
import { deadPort } from "../tests/_util/proxy_fixture.ts";
import { dotproxy, waitUntilAnswering } from "../tests/_util/cli.ts";
import { testdataPath } from "../tests/_util/tools.ts";
import { parsePrometheusText } from "../tests/_util/prometheus_text.ts";

/** One query in this many is held by the first upstream. */
const STALL_EVERY = 50;
/** How long it is held. */
const STALL_MS = 1500;
/** Queries sent before measuring: connections open, round trips learned. */
const WARM_UP = 500;

/** Settings of the scenario. */
export interface HedgeScenarioOptions {
  /** Queries measured per run. */
  readonly queries: number;
  /** Queries sent per second. */
  readonly rate: number;
  /** Prints a line. */
  readonly print: (line: string) => void;
}

/** What one run measured. */
export interface HedgeRun {
  readonly hedge: string;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** Upstream queries per client query, beyond one. */
  readonly extraShare: number;
  /** Hedges whose answer was used, per client query. */
  readonly winShare: number;
  readonly failed: number;
}

/**
 * Runs the scenario without and with hedging, prints a table and whether the target is met.
 *
 * @param options How many queries, how many at once, where to print.
 * @returns The two runs.
 */
export async function runHedgeScenario(options: HedgeScenarioOptions): Promise<HedgeRun[]> {
  const upstreams = new Deno.Command(Deno.execPath(), {
    args: [
      ...["run", "--allow-all", new URL("hedge_upstreams.ts", import.meta.url).pathname],
      ...[String(STALL_EVERY), String(STALL_MS)],
    ],
    stdout: "piped",
    stdin: "null",
  });
  const { print } = options;
  const runs: HedgeRun[] = [];
  const child = upstreams.spawn();
  try {
    const ports = await firstLine(child.stdout);
    print(
      `hedge: 2 upstreams in order, the first holds 1 query in ${STALL_EVERY} for ${STALL_MS} ` +
        `ms; ${options.queries} unique names over UDP at ${options.rate} per second`,
    );
    print("| --hedge | p50 ms | p99 ms | max ms | extra upstream queries | hedges won | failed |");
    print("|---|--:|--:|--:|--:|--:|--:|");
    for (const hedge of ["off", "auto"]) {
      const run = await measure(hedge, [ports.stalling, ports.steady], options);
      runs.push(run);
      print(
        `| ${run.hedge} | ${run.p50.toFixed(1)} | ${run.p99.toFixed(1)} | ${
          run.max.toFixed(0)
        } | ` +
          `${percent(run.extraShare)} | ${percent(run.winShare)} | ${run.failed} |`,
      );
    }
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
  const [off, auto] = runs as [HedgeRun, HedgeRun];
  const met = auto.p99 <= off.p99 / 5 && auto.extraShare <= 0.05;
  print(
    `hedge target (p99 <= 1/5 of p99 without, <= 5 % extra upstream queries): ` +
      `${(auto.p99 / off.p99).toFixed(3)}x at ${percent(auto.extraShare)} -> ` +
      (met ? "met" : "NOT met"),
  );
  return runs;
}

function percent(share: number): string {
  return `${(share * 100).toFixed(2)} %`;
}

/** The ports the upstreams' process prints (and the rest of its output, read and dropped). */
async function firstLine(
  stdout: ReadableStream<Uint8Array>,
): Promise<{ stalling: number; steady: number }> {
  const lines = stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await lines.read();
    if (done) throw new Error("The upstreams' process ended before printing its ports");
    text += value;
  }
  lines.read().then(function drain(result): unknown {
    return result.done ? undefined : lines.read().then(drain);
  });
  return JSON.parse(text.slice(0, text.indexOf("\n")));
}

/** The sum of a counter over its series, from the proxy's /metrics. */
async function counter(metricsPort: number, name: string): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
  const family = parsePrometheusText(await response.text()).get(name);
  return (family?.samples ?? []).reduce((sum, sample) => sum + sample.value, 0);
}

async function measure(
  hedge: string,
  upstreamPorts: readonly number[],
  options: HedgeScenarioOptions,
): Promise<HedgeRun> {
  const port = deadPort();
  const metricsPort = deadPort();
  const proxy = dotproxy([
    ...["--port", String(port), "--ca-file", testdataPath("tls", "ca.pem")],
    ...upstreamPorts.flatMap((upstream) => ["--upstream", `127.0.0.1:${upstream}#dot.test`]),
    ...["--upstream-policy", "sequential", "--cache-size", "0", "--hedge", hedge],
    ...["--log-level", "warning", "--http", `127.0.0.1:${metricsPort}`],
  ]).spawn();
  try {
    if (!await waitUntilAnswering(port)) throw new Error("The proxy did not start");
    await using client = new UdpLoad(port);
    await client.run(`w-${hedge}`, WARM_UP, options.rate);
    const sentBefore = await counter(metricsPort, "dotproxy_upstream_requests_total");
    const wonBefore = await counter(metricsPort, "dotproxy_upstream_hedge_wins_total");
    const latencies = await client.run(`m-${hedge}`, options.queries, options.rate);
    // Late answers to held queries are counted too: wait for them (the proxy's deadline).
    await new Promise((resolve) => setTimeout(resolve, STALL_MS));
    const sent = await counter(metricsPort, "dotproxy_upstream_requests_total") - sentBefore;
    const won = await counter(metricsPort, "dotproxy_upstream_hedge_wins_total") - wonBefore;
    const answered = latencies.filter((ms) => ms >= 0).sort((a, b) => a - b);
    const at = (q: number) =>
      answered[Math.min(answered.length - 1, Math.ceil(q * answered.length) - 1)] ?? NaN;
    return {
      hedge,
      p50: at(0.5),
      p99: at(0.99),
      max: answered.at(-1) ?? NaN,
      extraShare: (sent - options.queries) / options.queries,
      winShare: won / options.queries,
      failed: latencies.length - answered.length,
    };
  } finally {
    proxy.kill("SIGTERM");
    await proxy.output();
  }
}

/** Queries over one UDP socket at a fixed rate, matched by ID. */
class UdpLoad implements AsyncDisposable {
  readonly #socket = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  readonly #address: Deno.NetAddr;
  /** Resolvers of the queries in flight, by ID. */
  readonly #waiting = new Map<number, (receivedAt: number) => void>();
  readonly #receiving: Promise<void>;

  constructor(port: number) {
    this.#address = { transport: "udp", hostname: "127.0.0.1", port };
    this.#receiving = this.#receive();
  }

  /**
   * Sends `count` queries, `rate` per second, in batches every 10 ms.
   *
   * @returns Each query's latency in ms, -1 for one unanswered within 5 s.
   */
  async run(tag: string, count: number, rate: number): Promise<number[]> {
    const asked: Promise<number>[] = [];
    const start = performance.now();
    while (asked.length < count) {
      const due = Math.min(count, Math.floor((performance.now() - start) * rate / 1000) + 1);
      while (asked.length < due) {
        const index = asked.length;
        // IDs are unique among the queries in flight: at most 5 s of them, under 65536.
        const query = buildQuery(`q${index}.${tag}.bench.test`, "A", { id: index & 0xffff });
        asked.push(this.#ask(index & 0xffff, query));
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return await Promise.all(asked);
  }

  async #ask(id: number, query: Uint8Array): Promise<number> {
    const sentAt = performance.now();
    const answered = new Promise<number>((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        resolve(-1);
      }, 5000);
      this.#waiting.set(id, (receivedAt) => {
        clearTimeout(timer);
        resolve(receivedAt - sentAt);
      });
    });
    await this.#socket.send(query, this.#address);
    return await answered;
  }

  async #receive(): Promise<void> {
    try {
      for (;;) {
        const [reply] = await this.#socket.receive();
        const id = (reply[0]! << 8) | reply[1]!;
        const waiting = this.#waiting.get(id);
        this.#waiting.delete(id);
        waiting?.(performance.now());
      }
    } catch {
      // The socket was closed: the run is over.
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#socket.close();
    await this.#receiving;
  }
}
