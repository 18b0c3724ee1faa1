// `dotproxy check-config` and `--config` as users run them: exit codes, the one line printed,
// DOTPROXY_CONFIG, and a proxy that takes its listener and upstream from the file.

import assert from "node:assert/strict";
import { startFakeDotServer } from "./_util/fake_dot_server.ts";
import { buildQuery, decode, udpQuery } from "./_util/dns_client.ts";
import { deadPort } from "./_util/proxy_fixture.ts";
import { testdataPath } from "./_util/tools.ts";
import { dotproxy, runDotproxy } from "./_util/cli.ts";

const CA = testdataPath("tls", "ca.pem");
const EXAMPLE = new URL("../docs/dotproxy.example.yaml", import.meta.url).pathname;

const run = runDotproxy;

/** Writes each file into a fresh temporary directory; returns their paths and a cleanup. */
async function tempFiles(files: Record<string, string>) {
  const dir = await Deno.makeTempDir({ prefix: "dotproxy_config_" });
  const paths: Record<string, string> = {};
  for (const [name, text] of Object.entries(files)) {
    paths[name] = `${dir}/${name}`;
    await Deno.writeTextFile(paths[name]!, text);
  }
  return { paths, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
}

const GOOD = `listen: [127.0.0.1, "::1"]
port: 5353
upstream: ["9.9.9.9#dns.quad9.net", "149.112.112.112#dns.quad9.net"]
ca-file: ${JSON.stringify(CA)}
forward-zone:
  - corp.example=10.8.0.1:853#dns.corp.example
  - cluster.local=udp://10.96.0.10
cache-size: 20000
log-queries: true
http: 127.0.0.1:9153
`;

Deno.test("check-config exits 0 with one line on stdout for a good file, 2 with one line on stderr otherwise", async () => {
  await using files = await tempFiles({
    "good.yaml": GOOD,
    "bad-value.yaml": "port: 5353\ncache-size: lots\n",
    "unknown.yaml": "cache_size: 5\n",
    "syntax.yaml": "port: 5353\nlisten: [127.0.0.1\nupstream: 1.1.1.1\n",
    "bad-item.yaml": "upstream:\n  - 1.1.1.1\n  - dns.example:853\n",
  });
  const { paths } = files;
  const cases: [string[], Record<string, string>, number, RegExp][] = [
    [["--config", paths["good.yaml"]!], {}, 0, /^dotproxy: configuration OK\n$/],
    [["--config", EXAMPLE], {}, 0, /^dotproxy: configuration OK\n$/],
    [[], { DOTPROXY_CONFIG: paths["good.yaml"]! }, 0, /^dotproxy: configuration OK\n$/],
    [[], {}, 0, /^dotproxy: configuration OK\n$/],
    [
      ["--config", paths["bad-value.yaml"]!],
      {},
      2,
      /^dotproxy: Invalid config file key "cache-size" = "lots" in \S+bad-value\.yaml: expected an integer from 0 to 10000000\n$/,
    ],
    [
      [],
      { DOTPROXY_CONFIG: paths["unknown.yaml"]! },
      2,
      /^dotproxy: Unknown key "cache_size" in \S+unknown\.yaml \(did you mean "cache-size"\?\)\n$/,
    ],
    [
      ["--config", paths["syntax.yaml"]!],
      {},
      2,
      /^dotproxy: Cannot parse config file \S+syntax\.yaml: line 3: /,
    ],
    [["--config", paths["bad-item.yaml"]!], {}, 2, /key "upstream\[1\]" = "dns\.example:853" in /],
    [["--config", "/nonexistent/dotproxy.yaml"], {}, 2, /^dotproxy: Cannot read --config /],
    [["--config", paths["good.yaml"]!, "--port", "70000"], {}, 2, /^dotproxy: Invalid --port/],
    [["--config", paths["good.yaml"]!], { DOTPROXY_PORT: "x" }, 2, /DOTPROXY_PORT "x"/],
  ];
  const results = await Promise.all(
    cases.map(([args, env]) => run(["check-config", ...args], env)),
  );
  results.forEach(({ code, stdout, stderr }, i) => {
    const [args, env, expected, pattern] = cases[i]!;
    const what = `check-config ${args.join(" ")} ${JSON.stringify(env)}`;
    assert.equal(code, expected, `${what}: ${stderr}`);
    assert.match(expected === 0 ? stdout : stderr, pattern, what);
    assert.equal(expected === 0 ? stderr : stdout, "", what);
    assert.equal((expected === 0 ? stdout : stderr).split("\n").length, 2, `${what}: one line`);
  });
});

Deno.test("check-config --help prints the usage, which documents --config and check-config", async () => {
  const { code, stdout } = await run(["check-config", "--help"]);
  assert.equal(code, 0);
  assert.match(stdout, /--config FILE/);
  assert.match(stdout, /dotproxy check-config/);
  assert.match(stdout, /DOTPROXY_CONFIG/);
});

Deno.test("the proxy listens and forwards as its --config file says, below the flags", async () => {
  await using upstream = await startFakeDotServer();
  const port = deadPort();
  await using files = await tempFiles({
    "dotproxy.yaml": `listen: 127.0.0.1
port: 1 # overridden by the flag
upstream: 127.0.0.1:${upstream.port}#dot.test
ca-file: ${JSON.stringify(CA)}
log-queries: true
`,
  });
  const child = dotproxy(["--config", files.paths["dotproxy.yaml"]!, "--port", String(port)], {
    DOTPROXY_LOG_FORMAT: "json",
  }).spawn();
  try {
    let reply: Uint8Array | undefined;
    for (let i = 0; i < 100 && reply === undefined; i++) { // bounded: up to ~10 s to start
      reply = await udpQuery(port, buildQuery("from-file.example.test", "A"), { timeoutMs: 100 })
        .catch(() => undefined);
    }
    assert(reply !== undefined, "the proxy answers on the port of the flag");
    assert.equal(decode(reply).rcode, "NOERROR");
  } finally {
    child.kill("SIGTERM");
    const { code, stderr } = await child.output();
    const lines = new TextDecoder().decode(stderr).trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.equal(code, 0);
    assert(lines.some((line) => line.logger === "dotproxy.querylog"), "log-queries from the file");
  }
  assert(upstream.queries.some((query) => query.name === "from-file.example.test"));
});
