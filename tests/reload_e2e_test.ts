// SIGHUP reloads the --config file of a running proxy (main.ts in a subprocess): new upstreams
// take over mid-load without losing a query, a bad file is rejected and the running
// configuration keeps serving, and a change that needs a restart is reported and left alone.

import assert from "node:assert/strict";
import {
  answer,
  defaultAnswer,
  type FakeDotServer,
  type ReceivedQuery,
  startFakeDotServer,
} from "./_util/fake_dot_server.ts";
import { type Answer, buildQuery, decode, udpQuery } from "./_util/dns_client.ts";
import { deadPort } from "./_util/proxy_fixture.ts";
import { testdataPath } from "./_util/tools.ts";
import { type LogLine, ProxyProcess } from "./_util/proxy_process.ts";

const CA = testdataPath("tls", "ca.pem");

/** A SOA record for `zone` whose TTL and MINIMUM are `ttl` (negative answers live that long). */
function soa(zone: string, ttl: number): Answer {
  return {
    type: "SOA",
    name: zone,
    ttl,
    data: {
      mname: `ns.${zone}`,
      rname: `admin.${zone}`,
      serial: 1,
      refresh: 3600,
      retry: 600,
      expire: 86400,
      minimum: ttl,
    },
  };
}

/** Waits (bounded: Deno starts in well under 10 s) until the proxy answers. */
async function waitUntilServing(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const answered = await udpQuery(port, buildQuery("ready.example.test", "A"), {
      timeoutMs: 100,
    }).then(() => true, () => false);
    if (answered) return;
  }
  throw new Error("the proxy does not answer");
}

function config(port: number, upstream: FakeDotServer, extra = ""): string {
  return `# written by reload_e2e_test.ts
listen: [127.0.0.1]
port: ${port}
upstream:
  - 127.0.0.1:${upstream.port}#dot.test
ca-file: ${JSON.stringify(CA)}
# Retired upstreams close timeout + 1 s after a reload; SIGTERM waits for that.
timeout: 2000
${extra}`;
}

/** Names that reached `server`, lowercased, from the queries with this suffix. */
function namesAt(server: FakeDotServer, suffix: string): Set<string> {
  return new Set(
    server.queries.map((query) => query.name.toLowerCase()).filter((name) => name.endsWith(suffix)),
  );
}

/** Sends `names` over UDP with `concurrency` in flight; each result holds when it was sent. */
async function load(
  port: number,
  names: readonly string[],
  concurrency: number,
  onAnswer: (answered: number) => void = () => {},
): Promise<{ name: string; sentAt: number; rcode: string }[]> {
  const results: { name: string; sentAt: number; rcode: string }[] = [];
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const name = names[next++]!;
      const sentAt = performance.now();
      const rcode = await udpQuery(port, buildQuery(name, "A"), { timeoutMs: 5000 }).then(
        (reply) => decode(reply).rcode ?? "?",
        (error: Error) => error.message,
      );
      results.push({ name, sentAt, rcode });
      onAnswer(results.length);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

Deno.test("SIGHUP moves a steady load to the new upstream of the --config file without losing a query; a bad file keeps it serving", async () => {
  await using a = await startFakeDotServer();
  await using b = await startFakeDotServer();
  const dir = await Deno.makeTempDir({ prefix: "dotproxy_reload_" });
  const file = `${dir}/dotproxy.yaml`;
  const port = deadPort();
  await Deno.writeTextFile(file, config(port, a));
  const proxy = new ProxyProcess(["--config", file]);
  let exitCode: number | undefined;
  try {
    await waitUntilServing(port);

    // 1500 unique names, 8 in flight; after 500 answers, point the file at B and send SIGHUP.
    const names = Array.from({ length: 1500 }, (_, i) => `q${i}.load.reload.test`);
    let reloading: Promise<LogLine> | undefined;
    const results = await load(port, names, 8, (answered) => {
      if (answered !== 500) return;
      reloading = (async () => {
        await Deno.writeTextFile(file, config(port, b));
        proxy.kill("SIGHUP");
        return await proxy.waitForLine((line) => /^Reloaded /.test(line.message));
      })();
    });
    assert(reloading !== undefined);
    const reloaded = await reloading;
    assert.deepEqual(reloaded.changed, ["upstream"]);
    assert.match(reloaded.message, new RegExp(`upstream 127\\.0\\.0\\.1:${b.port}#dot\\.test`));

    const failed = results.filter((result) => result.rcode !== "NOERROR");
    assert.deepEqual(failed, [], "every query answered NOERROR");
    assert.equal(results.length, names.length);
    const atA = namesAt(a, ".load.reload.test");
    const atB = namesAt(b, ".load.reload.test");
    const after = results.filter((result) => result.sentAt > reloaded.readAt);
    assert(after.length >= 200, `${after.length} queries sent after the reload`);
    for (const { name } of after) {
      assert(atB.has(name), `${name}, sent after the reload, reached B`);
      assert(!atA.has(name), `${name}, sent after the reload, did not reach A`);
    }
    assert(atA.size >= 500, `A answered the queries before the reload (${atA.size})`);

    // A bad file: rejected with an error line naming the key, and B keeps serving.
    const seen = proxy.lines.length;
    const aBefore = a.queries.length;
    await Deno.writeTextFile(file, config(port, a, "cache-size: lots\n"));
    proxy.kill("SIGHUP");
    const rejected = await proxy.waitForLine((line) => line.level === "error", seen);
    assert.match(rejected.message, /^Reload of .* rejected, keeping the running configuration: /);
    assert.match(rejected.message, /config file key "cache-size" = "lots"/);
    const more = Array.from({ length: 50 }, (_, i) => `q${i}.bad.reload.test`);
    const afterBad = await load(port, more, 4);
    assert.deepEqual(afterBad.filter((result) => result.rcode !== "NOERROR"), []);
    assert.equal(namesAt(b, ".bad.reload.test").size, 50, "B still serves");
    assert.equal(a.queries.length, aBefore, "A gets nothing");

    // A change that needs a restart: reported, and left alone.
    const seen2 = proxy.lines.length;
    await Deno.writeTextFile(file, config(port, b, "cache-size: 5\nmax-udp-size: 4096\n"));
    proxy.kill("SIGHUP");
    const warning = await proxy.waitForLine((line) => line.level === "warning", seen2);
    assert.match(warning.message, /--max-udp-size, --cache-size needs a restart; keeping/);
    assert.deepEqual(warning.needRestart, ["max-udp-size", "cache-size"]);
    const unchanged = await proxy.waitForLine((line) => /^Reloaded /.test(line.message), seen2);
    assert.deepEqual(unchanged.changed, []);
    const reply = decode(await udpQuery(port, buildQuery("still.reload.test", "A")));
    assert.equal(reply.rcode, "NOERROR");
  } finally {
    exitCode = await proxy.stop();
    await Deno.remove(dir, { recursive: true });
  }
  assert.equal(exitCode, 0, "SIGTERM still stops it cleanly");
});

Deno.test("SIGHUP without --config logs that there is nothing to reload and does not stop the proxy", async () => {
  await using upstream = await startFakeDotServer();
  const port = deadPort();
  const proxy = new ProxyProcess([
    "--port",
    String(port),
    "--upstream",
    `127.0.0.1:${upstream.port}#dot.test`,
    "--ca-file",
    CA,
  ]);
  let exitCode: number | undefined;
  try {
    await waitUntilServing(port);
    proxy.kill("SIGHUP");
    await proxy.waitForLine((line) => /no --config file, nothing to reload/.test(line.message));
    proxy.kill("SIGHUP");
    const reply = decode(await udpQuery(port, buildQuery("after-hup.example.test", "A")));
    assert.equal(reply.rcode, "NOERROR");
  } finally {
    exitCode = await proxy.stop();
  }
  assert.equal(exitCode, 0);
  const lines = proxy.lines.filter((line) => /nothing to reload/.test(line.message));
  assert.equal(lines.length, 2);
});

for (const workers of [1, 2]) {
  Deno.test(`SIGHUP that routes a zone elsewhere drops the answers cached from its old route (--workers ${workers})`, async () => {
    // A answers every name; under corp.internal it knows nothing (NXDOMAIN with
    // a SOA, cached for an hour). B serves corp.internal.
    const nxdomain = (query: ReceivedQuery) =>
      query.name.toLowerCase().endsWith("corp.internal")
        ? answer(query, { rcode: "NXDOMAIN", authorities: [soa("internal", 3600)] })
        : defaultAnswer(query);
    await using a = await startFakeDotServer({ handler: nxdomain });
    await using b = await startFakeDotServer();
    const dir = await Deno.makeTempDir({ prefix: "dotproxy_reload_" });
    const file = `${dir}/dotproxy.yaml`;
    const port = deadPort();
    await Deno.writeTextFile(file, config(port, a));
    const proxy = new ProxyProcess(["--config", file, "--workers", String(workers)], {
      runtimeFlags: ["--allow-ffi"],
    });
    let exitCode: number | undefined;
    try {
      await waitUntilServing(port);
      const ask = async (name: string) => decode(await udpQuery(port, buildQuery(name, "A")));
      assert.equal((await ask("intranet.corp.internal")).rcode, "NXDOMAIN");
      assert.equal((await ask("intranet.corp.internal")).rcode, "NXDOMAIN", "from the cache");
      assert.equal((await ask("www.example.test")).rcode, "NOERROR");
      assert.equal(a.queries.filter((q) => q.name === "intranet.corp.internal").length, 1);

      const seen = proxy.lines.length;
      const zone = `corp.internal=127.0.0.1:${b.port}#dot.test`;
      await Deno.writeTextFile(file, config(port, a, `forward-zone:\n  - ${zone}\n`));
      proxy.kill("SIGHUP");
      await proxy.waitForLine((line) => /^Reloaded /.test(line.message), seen);

      // Workers take the reload from the supervisor a moment after it logs it: ask again (bounded).
      let after = await ask("intranet.corp.internal");
      for (let i = 0; i < 50 && after.rcode !== "NOERROR"; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        after = await ask("intranet.corp.internal");
      }
      assert.equal(after.rcode, "NOERROR", "answered by B, not A's NXDOMAIN from the cache");
      assert.ok(b.queries.some((q) => q.name === "intranet.corp.internal"));
      // A name whose route did not change keeps its cached answer.
      const aBefore = a.queries.length;
      assert.equal((await ask("www.example.test")).rcode, "NOERROR");
      assert.equal(a.queries.length, aBefore, "www.example.test still from the cache");
    } finally {
      exitCode = await proxy.stop();
      await Deno.remove(dir, { recursive: true });
    }
    assert.equal(exitCode, 0);
  });
}

Deno.test("SIGHUP while the other workers start (--workers 2) is applied once started, never fatal", async () => {
  await using a = await startFakeDotServer();
  await using b = await startFakeDotServer();
  const dir = await Deno.makeTempDir({ prefix: "dotproxy_reload_" });
  const file = `${dir}/dotproxy.yaml`;
  const port = deadPort();
  await Deno.writeTextFile(file, config(port, a));
  const proxy = new ProxyProcess(["--config", file, "--workers", "2"], {
    runtimeFlags: ["--allow-ffi"],
  });
  let exitCode: number | undefined;
  try {
    // The first worker logs that it listens before the supervisor has seen it serve: a SIGHUP
    // sent at once lands while the supervisor still waits for its workers.
    await proxy.waitForLine((line) => /^Listening on/.test(line.message));
    await Deno.writeTextFile(file, config(port, b));
    proxy.kill("SIGHUP");
    await proxy.waitForLine((line) => /^Reloaded /.test(line.message));
    let reply = await udpQuery(port, buildQuery("after.example.test", "A")).catch(() => null);
    for (let i = 0; i < 50 && !b.queries.some((q) => q.name === "after.example.test"); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100)); // bounded: 5 s
      reply = await udpQuery(port, buildQuery("after.example.test", "A")).catch(() => null);
    }
    assert.ok(reply !== null && decode(reply).rcode === "NOERROR");
    assert.ok(b.queries.some((q) => q.name === "after.example.test"), "the new upstream is used");
    // The second worker, launched before the reload, got it too once it served: fresh sockets
    // (spread over both workers by the kernel) all reach the new upstream.
    await proxy.waitForLine((line) => /^Serving with 2 workers/.test(line.message));
    for (let i = 0; i < 16; i++) {
      const answer = await udpQuery(port, buildQuery(`spread${i}.example.test`, "A"));
      assert.equal(decode(answer).rcode, "NOERROR");
    }
    const late = a.queries.filter((q) => q.name.startsWith("spread"));
    assert.deepEqual(late.map((q) => q.name), [], "a worker still forwards to the old upstream");
  } finally {
    exitCode = await proxy.stop();
    await Deno.remove(dir, { recursive: true });
  }
  assert.equal(exitCode, 0);
});
