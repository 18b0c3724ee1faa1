/**
 * A TCP client over its rate limit that sends queries as fast as it can and
 * never reads: its REFUSED answers must not pile up in the proxy. The proxy
 * runs as main.ts in a subprocess so that its peak RSS (VmHWM) is its own.
 *
 * Reading must pause once the connection's cap of queued answers is reached,
 * so the proxy reads (and refuses) no more queries than the cap, one read's
 * worth beyond it, and what the kernel's socket buffers took before the
 * writes stalled; and the connection is closed once its oldest answer has
 * waited the stall timeout.
 */

import assert from "node:assert/strict";
import { buildRefused } from "../src/access/refusals.ts";
import { buildQuery } from "./_util/dns_client.ts";
import { dotproxy, waitUntilAnswering } from "./_util/cli.ts";
import { startFakeDotServer } from "./_util/fake_dot_server.ts";
import { deadPort } from "./_util/proxy_fixture.ts";
import { requireTool, testdataPath } from "./_util/tools.ts";

/** How long the client floods. */
const FLOOD_MS = 2000;

/**
 * A file of /proc, read with `cat`: Deno lets only --allow-all read /proc
 * itself, and the test task grants --allow-run instead.
 */
async function readProc(path: string): Promise<string> {
  const { success, stdout } = await new Deno.Command(requireTool("cat"), { args: [path] }).output();
  assert(success, `cannot read ${path}`);
  return new TextDecoder().decode(stdout);
}

/** Peak resident set of a process, in KiB. */
async function peakRssKib(pid: number): Promise<number> {
  const status = await readProc(`/proc/${pid}/status`);
  return Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)![1]);
}

/** A counter of the proxy's /metrics, summed over the series that hold every label given. */
async function metric(port: number, name: string, labels: string[]): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + "{") || !labels.every((label) => line.includes(label))) continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

/**
 * Octets the kernel holds on a loopback connection in one direction: sent by
 * `from` and not yet acknowledged, plus received by `to` and not yet read
 * (tx_queue and rx_queue of /proc/net/tcp).
 */
async function kernelQueued(from: number, to: number): Promise<number> {
  const hex = (port: number) => port.toString(16).toUpperCase().padStart(4, "0");
  let total = 0;
  for (const line of (await readProc("/proc/net/tcp")).split("\n").slice(1)) {
    const [, local, remote, , queues] = line.trim().split(/\s+/);
    if (local === undefined || remote === undefined || queues === undefined) continue;
    const [tx, rx] = queues.split(":").map((value) => parseInt(value, 16));
    if (local.endsWith(`:${hex(from)}`) && remote.endsWith(`:${hex(to)}`)) total += tx!;
    if (local.endsWith(`:${hex(to)}`) && remote.endsWith(`:${hex(from)}`)) total += rx!;
  }
  return total;
}

/** Many length-prefixed queries in one buffer. */
function queryBlock(count: number): Uint8Array {
  const query = QUERY;
  const block = new Uint8Array(count * (query.length + 2));
  for (let offset = 0; offset < block.length; offset += query.length + 2) {
    block.set([query.length >> 8, query.length & 0xff], offset);
    block.set(query, offset + 2);
  }
  return block;
}

const QUERY = buildQuery("flood.test", "A", { id: 7 });
/** Length prefix and REFUSED answer. */
const refusalFrame = 2 + buildRefused(QUERY, 1232)!.length;

/**
 * Writes `block` again and again for `ms`, never reading, each write resumed
 * where the kernel stopped taking it (so that the framing stays whole).
 *
 * @returns The octets the kernel took, and the write still pending (the
 * proxy stopped reading and the buffers are full), if any.
 */
async function flood(
  conn: Deno.TcpConn,
  block: Uint8Array,
  ms: number,
): Promise<{ written: number; stalled: Promise<number> | null }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<null>((resolve) => timer = setTimeout(resolve, ms, null));
  let written = 0;
  try {
    for (let offset = 0;; offset = written % block.length) {
      const write = conn.write(block.subarray(offset));
      const n = await Promise.race([write, deadline]);
      if (n === null) return { written, stalled: write };
      written += n;
    }
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("a TCP client that never reads its REFUSED answers cannot grow the proxy's memory", async () => {
  await using upstream = await startFakeDotServer();
  const port = deadPort();
  const httpPort = deadPort();
  const child = dotproxy([
    ...["--listen", "127.0.0.1", "--port", String(port)],
    ...["--upstream", `127.0.0.1:${upstream.port}#dot.test`],
    ...["--ca-file", testdataPath("tls", "ca.pem")],
    ...["--rate-limit", "1", "--tcp-idle-timeout", "60000"],
    ...["--workers", "1"], // one isolate: the figures of docs/security.md
    ...["--http", `127.0.0.1:${httpPort}`],
  ]).spawn();
  let conn: Deno.TcpConn | undefined;
  let stalled: Promise<number> | null = null;
  try {
    assert(await waitUntilAnswering(port), "the proxy did not start");
    const before = await peakRssKib(child.pid);
    const rateLimited = () =>
      metric(httpPort, "dotproxy_admission_rejected_total", ['"rate-limited"']);
    const refusedBefore = await rateLimited(); // the start-up check's UDP queries
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const flooded = await flood(conn, queryBlock(2000), FLOOD_MS);
    stalled = flooded.stalled;
    // Every REFUSED answer is in the kernel or still queued in the proxy:
    // wait (bounded) until the proxy stops making them, then count.
    let refused = -1;
    let inKernel = -1;
    for (let i = 0; i < 100; i++) {
      const now = await rateLimited() - refusedBefore;
      const kernel = await kernelQueued(port, conn.localAddr.port);
      if (now === refused && kernel === inKernel) break;
      [refused, inKernel] = [now, kernel];
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const after = await peakRssKib(child.pid);
    const queued = refused - Math.floor(inKernel / refusalFrame);
    // deno-lint-ignore no-console -- the figures of docs/security.md
    console.log(
      `client wrote ${(flooded.written / 1048576).toFixed(1)} MiB; proxy refused ${refused}, ` +
        `${inKernel} octets in the kernel, ${queued} answers queued in the proxy; ` +
        `VmHWM ${(before / 1024).toFixed(0)} -> ${(after / 1024).toFixed(0)} MiB`,
    );
    // The connection's cap (100), plus one read's worth (16 KiB) of queries.
    // Before REFUSED answers counted under the cap: 166k-379k.
    const bound = 100 + Math.ceil(16384 / (QUERY.length + 2));
    assert(queued <= bound, `${queued} REFUSED answers queued in the proxy, more than ${bound}`);
    // Before: 62 -> 165-361 MiB; now 62 -> 79. A generous margin: the bound above is what matters.
    assert(after - before < 64 * 1024, `peak RSS grew by ${after - before} KiB`);
  } finally {
    conn?.close();
    await stalled?.catch(() => 0); // rejected by the close
    child.kill("SIGTERM");
    await child.output();
  }
});
