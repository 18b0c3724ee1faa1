// --workers N end to end: main.ts in a subprocess with two workers on one port (SO_REUSEPORT)
// and one shared cache, against a fake DoT upstream that counts its queries. Which worker
// answered is read from the query log (its `worker` field); distinct client sockets (source
// ports) are tried until the kernel has sent queries to both workers, in a bounded loop.

import assert from "node:assert/strict";
import { defaultAnswer, startFakeDotServer } from "./_util/fake_dot_server.ts";
import { buildQuery, decode, udpQuery } from "./_util/dns_client.ts";
import { testdataPath } from "./_util/tools.ts";
import { type LogLine, ProxyProcess } from "./_util/proxy_process.ts";

const CA = testdataPath("tls", "ca.pem");
/** More than one worker needs FFI (the SO_REUSEPORT UDP sockets). */
const FFI = ["--allow-ffi"];

/** Whether a log line names the worker that answered (a query log line). */
function answeredBy(line: LogLine): boolean {
  return typeof line.worker === "number";
}

/** The query log line of the answer to `name` from the line `after` on. */
function answerOf(proxy: ProxyProcess, name: string, after: number): Promise<LogLine> {
  return proxy.waitForLine((line) => line.name === name, after);
}

async function startWorkers(upstreamPort: number, extra: string[] = [], env = {}, workers = 2) {
  const proxy = new ProxyProcess([
    ...["--listen", "127.0.0.1", "--port", "0", "--workers", String(workers), "--log-queries"],
    ...["--upstream", `127.0.0.1:${upstreamPort}#dot.test`, "--ca-file", CA],
    ...["--http", "127.0.0.1:0"],
    ...extra,
  ], { runtimeFlags: FFI, env });
  // One worker is the single loop (no supervisor): it logs its listeners instead.
  const serving = await proxy.waitForLine((line) =>
    workers === 1 ? /^Listening on/.test(line.message) : /Serving with 2 workers/.test(line.message)
  );
  const http = await proxy.waitForLine((line) => /Serving \/metrics/.test(line.message));
  return { proxy, port: serving.port as number, httpPort: http.port as number };
}

/** One query from a fresh socket (a new source port); the answer and the worker that gave it. */
async function ask(proxy: ProxyProcess, port: number, name: string) {
  const after = proxy.lines.length;
  const reply = decode(await udpQuery(port, buildQuery(name, "A"), { timeoutMs: 3000 }));
  const logged = await answerOf(proxy, name + ".", after);
  return { reply, worker: logged.worker as number, source: logged.source as string };
}

/** Sum of a counter family's series on a /metrics page. */
function total(page: string, family: string): number {
  let sum = 0;
  for (const line of page.split("\n")) {
    if (line.startsWith(family + "{") || line.startsWith(family + " ")) {
      sum += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return sum;
}

async function scrape(httpPort: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${httpPort}/metrics`);
  return await response.text();
}

Deno.test("a name answered through one worker is a cache hit through the other, and /metrics shows the totals", async () => {
  await using upstream = await startFakeDotServer();
  const { proxy, port, httpPort } = await startWorkers(upstream.port);
  try {
    const first = await ask(proxy, port, "shared.example");
    assert.equal(first.reply.rcode, "NOERROR");
    assert.equal(first.source, upstream.hostname + ":" + upstream.port + "#dot.test");
    let other = first;
    let asked = 1;
    for (; asked < 64 && other.worker === first.worker; asked++) {
      other = await ask(proxy, port, "shared.example");
      assert.equal(other.reply.rcode, "NOERROR");
    }
    assert.notEqual(other.worker, first.worker, "the kernel never chose the other worker");
    assert.equal(other.source, "cache");
    const upstreamQueries = upstream.queries.filter((q) => q.name === "shared.example");
    assert.equal(upstreamQueries.length, 1);

    // Totals: every answer the clients received is counted once, whichever worker sent it.
    const page = await scrape(httpPort);
    assert.equal(total(page, "dotproxy_dns_responses_total"), asked);
    assert.equal(total(page, "dotproxy_dns_requests_total"), asked);
    assert.equal(total(page, "dotproxy_cache_requests_total") >= asked, true);
    assert.match(page, /^dotproxy_workers 2$/m);
    assert.match(page, /^dotproxy_cache_entries 1$/m);
    assert.match(page, /^dotproxy_upstream_tls_connections_max\{to="[^"]+"\} 2$/m);
  } finally {
    assert.equal(await proxy.stop(), 0);
  }
});

Deno.test("with --listen :: and two workers, IPv4 clients get answers over UDP", async () => {
  await using upstream = await startFakeDotServer();
  const proxy = new ProxyProcess([
    ...["--listen", "::", "--port", "0", "--workers", "2", "--log-queries"],
    ...["--upstream", `127.0.0.1:${upstream.port}#dot.test`, "--ca-file", CA],
  ], { runtimeFlags: FFI });
  try {
    const serving = await proxy.waitForLine((line) => /Serving with 2 workers/.test(line.message));
    const port = serving.port as number;
    // Fresh sockets (source ports) until both workers have answered one (bounded).
    const workers = new Set<number>();
    for (let i = 0; i < 64 && workers.size < 2; i++) {
      const after = proxy.lines.length;
      const reply = decode(
        await udpQuery(port, buildQuery(`v4-${i}.example`, "A"), {
          timeoutMs: 3000,
        }),
      );
      assert.equal(reply.rcode, "NOERROR");
      const logged = await answerOf(proxy, `v4-${i}.example.`, after);
      assert.equal(logged.client, "::ffff:127.0.0.1");
      workers.add(logged.worker as number);
    }
    assert.equal(workers.size, 2, "the kernel never chose the other worker");
  } finally {
    assert.equal(await proxy.stop(), 0);
  }
});

Deno.test("a worker that dies is logged, counted and restarted, and the other loses no query", async () => {
  await using upstream = await startFakeDotServer();
  const { proxy, port, httpPort } = await startWorkers(upstream.port, [], {
    DOTPROXY_TEST_CONTROL: "1",
  });
  try {
    // A socket the kernel sends to worker 1 (the first SIGUSR1 ends worker 0).
    let found: Deno.DatagramConn | null = null;
    for (let i = 0; i < 64 && found === null; i++) {
      const socket = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
      const after = proxy.lines.length;
      await socket.send(buildQuery(`probe${i}.example`, "A"), {
        transport: "udp",
        hostname: "127.0.0.1",
        port,
      });
      await socket.receive();
      const logged = await answerOf(proxy, `probe${i}.example.`, after);
      if (logged.worker === 1) found = socket;
      else socket.close();
    }
    assert.ok(found !== null, "the kernel never chose worker 1");
    const survivor: Deno.DatagramConn = found;
    // Worker 0 has counted queries of its own before it dies (bounded).
    let zero = false;
    for (let i = 0; i < 64 && !zero; i++) {
      zero = (await ask(proxy, port, `before${i}.example`)).worker === 0;
    }
    assert.ok(zero, "the kernel never chose worker 0");
    const before = total(await scrape(httpPort), "dotproxy_dns_requests_total");
    const mark = proxy.lines.length;
    proxy.kill("SIGUSR1");
    // Queries keep coming on worker 1's socket while worker 0 dies and comes back: every
    // one is answered.
    let answered = 0;
    const deadline = Date.now() + 20_000;
    let back = false;
    for (let i = 0; i < 400 && Date.now() < deadline && !(back && i >= 50); i++) {
      await survivor.send(buildQuery(`during${i}.example`, "A"), {
        transport: "udp",
        hostname: "127.0.0.1",
        port,
      });
      const timer = setTimeout(() => survivor.close(), 3000);
      const [reply]: [Uint8Array, Deno.Addr] = await survivor.receive();
      clearTimeout(timer);
      assert.equal(decode(reply).rcode, "NOERROR");
      answered++;
      back ||= proxy.lines.slice(mark).some((line) =>
        /Worker 0 is serving again/.test(line.message)
      );
    }
    survivor.close();
    assert.ok(answered >= 50, `answered ${answered}`);
    await proxy.waitForLine((line) => /Worker 0 died/.test(line.message), mark);
    await proxy.waitForLine((line) => /Worker 0 is serving again/.test(line.message), mark);
    // Worker 0 answers again: fresh sockets until the log shows it (bounded).
    let again = false;
    for (let i = 0; i < 64 && !again; i++) {
      again = (await ask(proxy, port, `after${i}.example`)).worker === 0;
    }
    assert.ok(again, "the restarted worker never answered");
    const page = await scrape(httpPort);
    assert.match(page, /^dotproxy_worker_restarts_total 1$/m);
    // What the dead worker had counted stays in the totals (no counter reset for Prometheus).
    const after = total(page, "dotproxy_dns_requests_total");
    assert.ok(after >= before + answered, `requests ${before} before, ${after} after`);
    assert.match(page, /^dotproxy_workers 2$/m);
  } finally {
    assert.equal(await proxy.stop(), 0);
  }
});

for (const workers of [1, 2]) {
  // --workers 1 with --allow-ffi is the single loop, which takes UDP through libc (that it
  // bindListeners picks that socket, see bind_listeners_test.ts; here, its drain loses nothing).
  Deno.test(`SIGTERM with --workers ${workers} under load answers every query already received`, async () => {
    // Slow answers, so that queries are in flight in every worker when SIGTERM comes.
    await using upstream = await startFakeDotServer({
      handler: async (query) => {
        await new Promise((resolve) => setTimeout(resolve, 300));
        return defaultAnswer(query);
      },
    });
    const { proxy, port } = await startWorkers(upstream.port, [], {}, workers);
    let signalled = false;
    const sockets = Array.from(
      { length: 16 },
      () => Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" }),
    );
    try {
      const target = { transport: "udp" as const, hostname: "127.0.0.1", port };
      await Promise.all(
        sockets.map((socket, i) => socket.send(buildQuery(`term${i}.example`, "A"), target)),
      );
      // Every query reached a worker (logged as received upstream) before the signal. (The
      // workers' idle probes of the upstream, sent at start since --http is on, are not counted.)
      const received = () => upstream.queries.filter((q) => q.name.startsWith("term")).length;
      const deadline = Date.now() + 10_000;
      while (received() < sockets.length && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.equal(received(), sockets.length);
      proxy.kill("SIGTERM");
      signalled = true;
      const replies = await Promise.all(sockets.map(async (socket) => {
        const timer = setTimeout(() => socket.close(), 5000);
        const [reply] = await socket.receive();
        clearTimeout(timer);
        return decode(reply);
      }));
      for (const reply of replies) assert.equal(reply.rcode, "NOERROR");
      if (workers === 2) {
        const answering = new Set(proxy.lines.filter(answeredBy).map((line) => line.worker));
        assert.equal(answering.size, 2, "the load reached one worker only");
      }
    } finally {
      for (const socket of sockets) {
        try {
          socket.close();
        } catch {
          // Closed by its timer.
        }
      }
      assert.equal(await proxy.stop(signalled), 0);
    }
  });
}

Deno.test("SIGHUP with two workers moves a load to the new upstream in both, losing no query", async () => {
  await using a = await startFakeDotServer();
  await using b = await startFakeDotServer();
  const dir = await Deno.makeTempDir({ prefix: "dotproxy_workers_reload_" });
  const file = `${dir}/dotproxy.yaml`;
  const config = (upstreamPort: number) =>
    `listen: [127.0.0.1]\nport: 0\nworkers: 2\nlog-queries: true\n` +
    `upstream:\n  - 127.0.0.1:${upstreamPort}#dot.test\nca-file: ${JSON.stringify(CA)}\n` +
    `timeout: 2000\n`;
  await Deno.writeTextFile(file, config(a.port));
  const proxy = new ProxyProcess(["--config", file], { runtimeFlags: FFI });
  try {
    const serving = await proxy.waitForLine((line) => /Serving with 2 workers/.test(line.message));
    const port = serving.port as number;
    // 600 unique names from fresh sockets (so both workers get some), 8 in flight; SIGHUP after 200.
    let next = 0;
    let answered = 0;
    const failures: string[] = [];
    let reloaded: Promise<LogLine> | undefined;
    const client = async () => {
      while (next < 600) {
        const name = `q${next++}.reload.workers.test`;
        const rcode = await udpQuery(port, buildQuery(name, "A"), { timeoutMs: 5000 }).then(
          (reply) => decode(reply).rcode ?? "?",
          (error: Error) => error.message,
        );
        if (rcode !== "NOERROR") failures.push(`${name}: ${rcode}`);
        if (++answered === 200) {
          reloaded = (async () => {
            await Deno.writeTextFile(file, config(b.port));
            const mark = proxy.lines.length;
            proxy.kill("SIGHUP");
            return await proxy.waitForLine((line) => /^Reloaded /.test(line.message), mark);
          })();
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, client));
    assert.ok(reloaded !== undefined);
    await reloaded;
    assert.deepEqual(failures, []);
    // After the reload, both workers sent to B: the query log names the upstream and the worker.
    const late = proxy.lines.filter((line) =>
      typeof line.name === "string" && /^q(5\d\d)\.reload/.test(line.name)
    );
    const toB = late.filter((line) => line.source === `127.0.0.1:${b.port}#dot.test`);
    assert.equal(toB.length, late.length, "a late query went to the old upstream");
    assert.deepEqual(new Set(toB.map((line) => line.worker)), new Set([0, 1]));
  } finally {
    assert.equal(await proxy.stop(), 0);
    await Deno.remove(dir, { recursive: true });
  }
});
