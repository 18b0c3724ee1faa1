// The command as users run it: flag errors, help and version, start-up log
// lines, and a SIGTERM that lets queries in flight finish before exit 0.

import assert from "node:assert/strict";
import { startFakeDotServer } from "./_util/fake_dot_server.ts";
import { buildQuery, decode, udpQuery } from "./_util/dns_client.ts";
import { deadPort } from "./_util/proxy_fixture.ts";
import { testdataPath } from "./_util/tools.ts";
import { dotproxy, forwardingArgs, runDotproxy, waitUntilAnswering } from "./_util/cli.ts";

const CA = testdataPath("tls", "ca.pem");

const run = runDotproxy;

const badValues: [string[], Record<string, string>, RegExp][] = [
  [["--port", "70000"], {}, /--port.*70000/],
  [["--upstream", "dns.example:853"], {}, /--upstream.*dns\.example:853/],
  [["--ca-file", "/nonexistent/ca.pem"], {}, /--ca-file.*\/nonexistent\/ca\.pem/],
  [["--bogus"], {}, /--bogus/],
  [["--log-level", "loud"], {}, /--log-level.*loud/],
  [[], { DOTPROXY_PORT: "abc" }, /DOTPROXY_PORT.*abc/],
  [[], { DOT_SERVER: "1.1.1.1:0" }, /DOT_SERVER.*1\.1\.1\.1:0/],
];
for (const [args, env, pattern] of badValues) {
  Deno.test(`a bad value (${[...args, ...Object.keys(env)].join(" ")}) exits 2 with one line`, async () => {
    const { code, stderr } = await run(args, env);
    assert.equal(code, 2);
    const lines = stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, stderr);
    assert.match(lines[0]!, pattern);
  });
}

Deno.test("--help prints the usage and --version the version, both exit 0", async () => {
  const help = await run(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--max-udp-size N/);
  assert.match(help.stdout, /DOTPROXY_UPSTREAMS/);
  const version = await run(["-V"]);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^dotproxy \d+\.\d+\.\d+\n$/);
});

Deno.test("a port that cannot be bound exits 1 and says which", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { code, stderr } = await run([
    "--port",
    String(taken.addr.port),
    "--log-format",
    "text",
  ]);
  assert.equal(code, 1);
  assert.match(stderr, new RegExp(`Cannot listen on 127\\.0\\.0\\.1:${taken.addr.port} \\(TCP\\)`));
});

Deno.test("SIGTERM: queries in flight are answered, then exit 0", async () => {
  await using upstream = await startFakeDotServer();
  const port = deadPort();
  const child = dotproxy(forwardingArgs(port, upstream.port, CA), { DOTPROXY_LOG_FORMAT: "json" })
    .spawn();
  let signalled = false;
  try {
    assert.ok(await waitUntilAnswering(port), "the proxy answers");
    const inFlight = udpQuery(port, buildQuery("delay-500.inflight.example.test", "A", { id: 5 }), {
      timeoutMs: 5000,
    });
    while (!upstream.queries.some((query) => query.name.startsWith("delay-500"))) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    child.kill("SIGTERM");
    signalled = true;
    const reply = decode(await inFlight);
    assert.equal(reply.id, 5);
    assert.equal(reply.rcode, "NOERROR");
  } finally {
    if (!signalled) child.kill("SIGTERM");
    const { code, stderr } = await child.output();
    const log = new TextDecoder().decode(stderr);
    assert.equal(code, 0, log);
    const lines = log.trimEnd().split("\n").map((line) => JSON.parse(line));
    assert.ok(lines.some((line) => /Listening on 127\.0\.0\.1 port/.test(line.message)));
    assert.ok(lines.some((line) => /Received SIGTERM/.test(line.message)));
  }
});

Deno.test("--log-queries writes one JSON line per answer; SIGTERM with --lameduck turns /readyz 503 first", async () => {
  await using upstream = await startFakeDotServer();
  const port = deadPort();
  const httpPort = deadPort();
  const child = dotproxy([
    ...forwardingArgs(port, upstream.port, CA),
    "--log-queries",
    "--http",
    `127.0.0.1:${httpPort}`,
    "--lameduck",
    "1000",
    "--log-level",
    "warning", // the query log is written whatever the level
  ], { DOTPROXY_LOG_FORMAT: "json" }).spawn();
  let signalled = false;
  try {
    assert.ok(await waitUntilAnswering(port), "the proxy answers");
    await udpQuery(port, buildQuery("Logged.Example.test", "AAAA"));
    child.kill("SIGTERM");
    signalled = true;
    let status = 0;
    for (let i = 0; i < 50 && status !== 503; i++) { // bounded: the signal arrives at once
      const response = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
      await response.body?.cancel();
      status = response.status;
    }
    assert.equal(status, 503, "not ready during the lame-duck period");
    const during = decode(await udpQuery(port, buildQuery("lameduck.example.test", "A")));
    assert.equal(during.rcode, "NOERROR", "still answering during the lame-duck period");
  } finally {
    if (!signalled) child.kill("SIGTERM");
    const { code, stderr } = await child.output();
    const log = new TextDecoder().decode(stderr);
    assert.equal(code, 0, log);
    const lines = log.trimEnd().split("\n").map((line) => JSON.parse(line));
    const entry = lines.find((line) => line.logger === "dotproxy.querylog" && line.type === "AAAA");
    assert.ok(entry, log);
    assert.equal(entry.client, "127.0.0.1");
    assert.equal(entry.proto, "udp");
    assert.equal(entry.name, "Logged.Example.test.");
    assert.equal(entry.rcode, "NOERROR");
    assert.equal(entry.source, `127.0.0.1:${upstream.port}#dot.test`);
    assert.equal(typeof entry.duration_ms, "number");
    assert.ok(!lines.some((line) => /lame duck/.test(line.message)), "info lines stay off");
  }
});
