/**
 * Soak test (minutes, not part of `deno task test`): steady UDP and TCP load
 * through the real proxy while its upstream is stopped and started again
 * several times. Every query must get an answer, right or SERVFAIL, before
 * its deadline; none may hang or be wrong; and after each restart the proxy
 * must answer from the upstream again. Prints the figures and exits 1 on any
 * failure.
 *
 *   deno run --allow-net --allow-read --allow-env tests/soak/soak.ts \
 *     [--duration 150] [--outages 5] [--down 5] [--qps 200]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { BoundUdpClient } from "../_util/abuse_clients.ts";
import { startAbuseProxy } from "../_util/abuse_fixture.ts";
import { buildQuery, decode, TcpDnsClient } from "../_util/dns_client.ts";
import { type FakeDotServer, startFakeDotServer } from "../_util/fake_dot_server.ts";
import { dataOf } from "../_util/records.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    duration: { type: "string", default: "150" },
    outages: { type: "string", default: "5" },
    down: { type: "string", default: "5" },
    qps: { type: "string", default: "200" },
  },
});
const DURATION_MS = Number(values.duration) * 1000;
const OUTAGES = Number(values.outages);
const DOWN_MS = Number(values.down) * 1000;
const QPS = Number(values.qps);
/** A query without an answer by then has hung: well past the proxy's 4 s deadline. */
const HANG_MS = 8000;
const UDP_WORKERS = 16;
const TCP_WORKERS = 4;

const figures = {
  sent: 0,
  answered: 0,
  right: 0,
  servfail: 0,
  wrong: 0,
  hung: 0,
  tcpReconnects: 0,
};
/** performance.now() of the latest right answer. */
let lastRight = 0;
const problems: string[] = [];

function judge(answer: Uint8Array, name: string, type: string): void {
  figures.answered++;
  const packet = decode(answer);
  const expected = type === "A" ? "192.0.2.1" : "2001:db8::1";
  if (packet.rcode === "SERVFAIL" && packet.answers.length === 0) {
    figures.servfail++;
  } else if (
    packet.rcode === "NOERROR" && packet.questions[0]?.name === name &&
    packet.answers.length === 1 && dataOf(packet.answers[0]!) === expected
  ) {
    figures.right++;
    lastRight = performance.now();
  } else {
    figures.wrong++;
    if (problems.length < 10) problems.push(`wrong answer for ${name}: ${JSON.stringify(packet)}`);
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function udpWorker(port: number, worker: number, until: number): Promise<void> {
  await using client = new BoundUdpClient("127.0.0.1");
  const interval = 1000 * (UDP_WORKERS + TCP_WORKERS) / QPS;
  for (let n = 0; performance.now() < until; n++) {
    const started = performance.now();
    const type = n % 2 === 0 ? "A" : "AAAA";
    const name = `u${worker}-${n}.soak.test`; // unique: every answer comes from upstream
    figures.sent++;
    try {
      judge(
        await client.query(port, buildQuery(name, type, { id: n & 0xffff }), HANG_MS),
        name,
        type,
      );
    } catch {
      figures.hung++;
      if (problems.length < 10) problems.push(`no UDP answer for ${name} in ${HANG_MS} ms`);
    }
    await pause(Math.max(0, interval - (performance.now() - started)));
  }
}

async function tcpWorker(port: number, worker: number, until: number): Promise<void> {
  const interval = 1000 * (UDP_WORKERS + TCP_WORKERS) / QPS;
  let client: TcpDnsClient | null = null;
  try {
    for (let n = 0; performance.now() < until; n++) {
      const started = performance.now();
      const type = n % 2 === 0 ? "A" : "AAAA";
      const name = `t${worker}-${n}.soak.test`;
      figures.sent++;
      try {
        client ??= await TcpDnsClient.connect(port);
        await client.send(buildQuery(name, type, { id: n & 0xffff }));
        judge(await client.receive(HANG_MS), name, type);
      } catch (error) {
        figures.hung++;
        if (problems.length < 10) problems.push(`TCP ${name}: ${(error as Error).message}`);
        client?.close();
        client = null;
        figures.tcpReconnects++;
      }
      await pause(Math.max(0, interval - (performance.now() - started)));
    }
  } finally {
    client?.close();
  }
}

/** Stops and restarts the upstream on its port; returns the longest time to the next right answer. */
async function outages(first: FakeDotServer, until: number): Promise<number[]> {
  const port = first.port;
  let upstream = first;
  const recoveries: number[] = [];
  const gap = (until - performance.now()) / (OUTAGES + 1);
  try {
    for (let i = 0; i < OUTAGES; i++) {
      await pause(Math.max(0, gap - DOWN_MS));
      await upstream.close();
      await pause(DOWN_MS);
      upstream = await startFakeDotServer({ port });
      const restarted = performance.now();
      while (lastRight < restarted && performance.now() - restarted < 60_000) await pause(10);
      recoveries.push(lastRight >= restarted ? lastRight - restarted : Infinity);
    }
    await pause(Math.max(0, until - performance.now())); // the load runs to its end
  } finally {
    await upstream.close();
  }
  return recoveries;
}

const upstream = await startFakeDotServer();
const proxy = startAbuseProxy([upstream], { cacheSize: 10000, timeoutMs: 4000 });
const started = performance.now();
const until = started + DURATION_MS;
const memoryBefore = Deno.memoryUsage();
const recoveries = outages(upstream, until);
/** RSS and heap (MiB) at each quarter of the run, to tell a plateau from a leak. */
const samples: string[] = [];
const sampling = (async () => {
  for (let quarter = 1; quarter <= 4; quarter++) {
    await pause(Math.max(0, started + (DURATION_MS * quarter) / 4 - performance.now() - 100));
    const { rss, heapUsed } = Deno.memoryUsage();
    samples.push(`${(rss / 1024 / 1024).toFixed(0)}/${(heapUsed / 1024 / 1024).toFixed(0)}`);
  }
})();
await Promise.all([
  ...Array.from({ length: UDP_WORKERS }, (_, i) => udpWorker(proxy.port, i, until)),
  ...Array.from({ length: TCP_WORKERS }, (_, i) => tcpWorker(proxy.port, i, until)),
]);
const recovered = await recoveries;
await sampling;
const memoryAfter = Deno.memoryUsage();
const inFlight = proxy.admission.inFlight.count;
await proxy.shutdown(1000);

const seconds = ((performance.now() - started) / 1000).toFixed(0);
const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);
const report = [
  `soak: ${seconds} s, ${OUTAGES} upstream outages of ${DOWN_MS / 1000} s, target ${QPS} qps`,
  `  queries sent ${figures.sent}, answered ${figures.answered} (right ${figures.right}, ` +
  `SERVFAIL ${figures.servfail}, wrong ${figures.wrong}), hung ${figures.hung}, ` +
  `TCP reconnects ${figures.tcpReconnects}`,
  `  recovery after each restart (ms): ${recovered.map((ms) => ms.toFixed(0)).join(", ")}; ` +
  `max ${Math.max(...recovered).toFixed(0)}`,
  `  queries in flight at the end: ${inFlight}; heap ${mib(memoryBefore.heapUsed)} → ` +
  `${mib(memoryAfter.heapUsed)} MiB, RSS ${mib(memoryBefore.rss)} → ${mib(memoryAfter.rss)} MiB`,
  `  RSS/heap MiB at each quarter of the run: ${samples.join(", ")}`,
  ...problems.map((problem) => `  ${problem}`),
];
const failed = figures.hung > 0 || figures.wrong > 0 || !recovered.every(Number.isFinite) ||
  figures.sent !== figures.answered + figures.hung;
await Deno.stdout.write(
  new TextEncoder().encode(`${report.join("\n")}\n${failed ? "FAILED" : "OK"}\n`),
);
Deno.exit(failed ? 1 : 0);
