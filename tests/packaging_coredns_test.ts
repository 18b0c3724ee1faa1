// The CoreDNS example: cluster names stay with the kubernetes plugin, everything else is
// forwarded to the node-local dotproxy, at the address and port the DaemonSet listens on.

import assert from "node:assert/strict";
import { COREDNS_PLUGINS, type Directive, parseCorefile } from "./_util/packaging_corefile.ts";
import { containerLaunch, kustomize } from "./_util/packaging_kubernetes.ts";
import { proxyConfig, readDockerfile, repoPath, stageEnv } from "./_util/packaging_sources.ts";

const servers = parseCorefile(await Deno.readTextFile(repoPath("deploy", "coredns", "Corefile")));

function directives(name: string): Directive[] {
  return servers.flatMap((server) => server.directives.filter((d) => d.name === name));
}

Deno.test("parseCorefile() reads keys, directives and nested blocks, and rejects unbalanced ones", () => {
  const parsed = parseCorefile(
    "# c\nexample.org:53 .:53 {\n  forward . 1.2.3.4 { # x\n    max_fails 2\n  }\n  log\n}\n",
  );
  assert.deepEqual(parsed, [{
    keys: ["example.org:53", ".:53"],
    directives: [
      {
        name: "forward",
        args: [".", "1.2.3.4"],
        block: [{ name: "max_fails", args: ["2"], block: [] }],
      },
      { name: "log", args: [], block: [] },
    ],
  }]);
  assert.throws(() => parseCorefile(".:53 {\n  log\n"), SyntaxError);
  assert.throws(() => parseCorefile("log\n"), SyntaxError);
});

Deno.test("the Corefile has one root server block on port 53 using only CoreDNS plugins", () => {
  assert.equal(servers.length, 1);
  assert.deepEqual(servers[0]!.keys, [".:53"]);
  const names = servers[0]!.directives.map((d) => d.name);
  assert.deepEqual(names.filter((name) => !COREDNS_PLUGINS.has(name)), []);
  assert.equal(new Set(names).size, names.length, "no plugin twice");
  for (const name of ["errors", "health", "ready", "kubernetes", "forward", "cache", "loop"]) {
    assert.ok(names.includes(name), name);
  }
});

Deno.test("cluster.local stays on the kubernetes plugin and is never forwarded", () => {
  const [kubernetes] = directives("kubernetes");
  assert.ok(kubernetes!.args.includes("cluster.local"));
  // Fallthrough for cluster.local would hand unknown cluster names to forward (and the internet).
  const fallthrough = kubernetes!.block.find((d) => d.name === "fallthrough");
  assert.ok(fallthrough !== undefined && fallthrough.args.length > 0, "fallthrough names zones");
  assert.ok(!fallthrough.args.includes("cluster.local"));
  assert.ok(fallthrough.args.every((zone) => kubernetes!.args.includes(zone)));
});

Deno.test("forward sends . to the node-local dotproxy's address and port", async () => {
  const forwards = directives("forward");
  assert.equal(forwards.length, 1);
  const [from, ...to] = forwards[0]!.args;
  assert.equal(from, ".");
  const objects = await kustomize(repoPath("deploy", "kubernetes"));
  const daemonSet = objects.find((o) => o.kind === "DaemonSet")!;
  const container = daemonSet.spec.template.spec.containers[0];
  const imageEnv = stageEnv(readDockerfile().at(-1)!);
  const { args, env } = containerLaunch(container, objects, imageEnv);
  const config = proxyConfig(args, env);
  assert.deepEqual(to, config.listen.map((address) => `${address}:${config.port}`));
});

Deno.test("health has a lame-duck period, as the proxy's own", () => {
  const [health] = directives("health");
  const lameduck = health!.block.find((d) => d.name === "lameduck");
  assert.match(lameduck?.args[0] ?? "", /^\d+s$/);
});
