// The systemd unit: `systemd-analyze verify` finds nothing wrong, `systemd-analyze security` rates
// its sandbox, its settings are accepted by the proxy and agree with the resolved drop-in, and the
// proxy, traced with strace while it answers queries, makes only the system calls the unit's
// SystemCallFilter= allows and opens only the socket families RestrictAddressFamilies= allows.

import assert from "node:assert/strict";
import { startFakeDotServer } from "./_util/fake_dot_server.ts";
import { buildQuery, TcpDnsClient, udpQuery } from "./_util/dns_client.ts";
import { parseEnvFile, proxyConfig, repoPath, runtimeFlags } from "./_util/packaging_sources.ts";
import {
  appArgs,
  buildScratchRootfs,
  freePrivilegedPort,
  ROOTFS_CA_FILE,
  scratchCommand,
  STAND_IN_ENV,
  stopScratch,
} from "./_util/scratch_rootfs.ts";
import { deadPort } from "./_util/proxy_fixture.ts";
import { requireTool } from "./_util/tools.ts";

const UNIT_FILE = repoPath("deploy", "systemd", "dotproxy.service");
const unit = await Deno.readTextFile(UNIT_FILE);
const INSTALLED_BINARY = "/usr/local/bin/dotproxy";

/** Values of `Key=` lines of the unit, in order (comments skipped). */
function directive(key: string): string[] {
  return unit.split("\n").filter((line) => line.startsWith(`${key}=`))
    .map((line) => line.slice(key.length + 1));
}

async function systemdAnalyze(args: string[]): Promise<{ code: number; output: string }> {
  const command = requireTool("systemd-analyze");
  const { code, stdout, stderr } = await new Deno.Command(command, {
    args,
    env: { SYSTEMD_COLORS: "0", SYSTEMD_PAGER: "cat" },
  }).output();
  const decoder = new TextDecoder();
  return { code, output: decoder.decode(stdout) + decoder.decode(stderr) };
}

/** System calls in a `systemd-analyze syscall-filter` set, its nested @sets expanded. */
async function expandSyscallSet(name: string): Promise<Set<string>> {
  if (!name.startsWith("@")) return new Set([name]);
  const { code, output } = await systemdAnalyze(["syscall-filter", name]);
  assert.equal(code, 0, output);
  const names = output.split("\n").slice(1).map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  const result = new Set<string>();
  for (const entry of names) for (const call of await expandSyscallSet(entry)) result.add(call);
  return result;
}

/** The system calls the unit's SystemCallFilter= lines allow (allow lists minus `~` deny lists). */
async function allowedSyscalls(): Promise<Set<string>> {
  const allowed = new Set<string>();
  const denied = new Set<string>();
  for (const value of directive("SystemCallFilter")) {
    const target = value.startsWith("~") ? denied : allowed;
    for (const name of value.replace(/^~/, "").split(/\s+/)) {
      for (const call of await expandSyscallSet(name)) target.add(call);
    }
  }
  return new Set([...allowed].filter((call) => !denied.has(call)));
}

Deno.test("dotproxy.service passes systemd-analyze verify without a warning", async () => {
  assert.deepEqual(directive("ExecStart"), [INSTALLED_BINARY]);
  // verify also checks ExecReload's /bin/kill: name its package when it is missing.
  assert.match(directive("ExecReload")[0] ?? "", /^\/bin\/kill /);
  requireTool("kill");
  const dir = await Deno.makeTempDir({ prefix: "dotproxy-unit-" });
  try {
    // verify checks that ExecStart's program exists: point it at an executable of ours.
    const binary = `${dir}/dotproxy`;
    await Deno.writeTextFile(binary, "#!/bin/sh\n", { mode: 0o755 });
    await Deno.writeTextFile(
      `${dir}/dotproxy.service`,
      unit.replace(`ExecStart=${INSTALLED_BINARY}`, `ExecStart=${binary}`),
    );
    const { code, output } = await systemdAnalyze(["verify", `${dir}/dotproxy.service`]);
    assert.equal(code, 0, output);
    assert.equal(output.trim(), "", "systemd-analyze verify warned");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dotproxy.service is sandboxed: systemd-analyze security rates it 1.5 or lower", async () => {
  const required = [
    ["DynamicUser", "yes"],
    ["AmbientCapabilities", "CAP_NET_BIND_SERVICE"],
    ["CapabilityBoundingSet", "CAP_NET_BIND_SERVICE"],
    ["NoNewPrivileges", "yes"],
    ["ProtectSystem", "strict"],
    ["ProtectHome", "yes"],
    ["PrivateTmp", "yes"],
    ["RestrictAddressFamilies", "AF_INET AF_INET6"],
  ] as const;
  for (const [key, value] of required) assert.deepEqual(directive(key), [value], key);
  assert.ok(directive("SystemCallFilter")[0]!.startsWith("@system-service"));
  // V8's JIT writes executable memory: this setting would kill the proxy at start.
  assert.deepEqual(directive("MemoryDenyWriteExecute"), []);
  // --threshold is the exposure level times ten; the command fails above it.
  const { code, output } = await systemdAnalyze([
    "security",
    "--offline=true",
    "--threshold=15",
    UNIT_FILE,
  ]);
  assert.equal(code, 0, output);
});

Deno.test("the unit's and the env file's settings are accepted; resolved forwards to them", async () => {
  const env: Record<string, string> = {};
  for (const line of directive("Environment")) {
    Object.assign(env, parseEnvFile(line.replaceAll(" ", "\n")));
  }
  assert.deepEqual(directive("EnvironmentFile"), ["-/etc/dotproxy/dotproxy.env"]);
  assert.equal(env.MALLOC_ARENA_MAX, "2", "fewer malloc arenas (docs/performance.md)");
  const example = parseEnvFile(
    await Deno.readTextFile(repoPath("deploy", "systemd", "dotproxy.env")),
  );
  for (const settings of [env, { ...env, ...example }]) {
    const config = proxyConfig([], settings);
    assert.deepEqual(config.listen, ["127.0.0.35"]);
    assert.equal(config.port, 53);
  }
  assert.equal(proxyConfig([], { ...env, ...example }).http?.hostname, "127.0.0.1");
  const resolved = await Deno.readTextFile(
    repoPath("deploy", "systemd", "resolved.conf.d", "dotproxy.conf"),
  );
  assert.match(resolved, /^\[Resolve\]$/m);
  assert.match(resolved, /^DNS=127\.0\.0\.35$/m);
  assert.match(resolved, /^Domains=~\.$/m);
});

Deno.test("the proxy makes only system calls the unit allows, on INET sockets only", async () => {
  const strace = requireTool("strace");
  const allowed = await allowedSyscalls();
  const root = await Deno.makeTempDir({ prefix: "dotproxy-strace-" });
  const trace = `${root}.strace`;
  await using upstream = await startFakeDotServer();
  try {
    await buildScratchRootfs(root);
    const port = freePrivilegedPort();
    const httpPort = deadPort();
    const env = {
      ...STAND_IN_ENV,
      // systemd sets HOME for a service with a (dynamic) user; without it the runtime asks NSS.
      HOME: "/",
      DOTPROXY_LISTEN: "127.0.0.1",
      DOTPROXY_PORT: String(port),
      DOTPROXY_HTTP: `127.0.0.1:${httpPort}`,
      DOTPROXY_UPSTREAMS: `127.0.0.1:${upstream.port}#dot.test`,
      DOTPROXY_CA_FILE: ROOTFS_CA_FILE,
      DOTPROXY_LOG_FORMAT: "json",
    };
    const wrapper = [strace, "-f", "-qq", "-o", trace];
    const child = scratchCommand(root, appArgs(runtimeFlags()), env, wrapper).spawn();
    let stopped: { code: number; stderr: string } | undefined;
    try {
      let answered = false;
      for (let i = 0; i < 150 && !answered; i++) { // bounded: about 15 s (strace slows start-up)
        const query = buildQuery("strace.example.test", "A");
        answered = await udpQuery(port, query, { timeoutMs: 100 }).then(() => true, () => false);
      }
      assert.ok(answered, "no answer from the traced proxy");
      await using tcp = await TcpDnsClient.connect(port);
      await tcp.send(buildQuery("tcp.strace.example.test", "A"));
      await tcp.receive();
      const response = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
      await response.body?.cancel();
    } finally {
      stopped = await stopScratch(child, 2);
    }
    assert.equal(stopped.code, 0, stopped.stderr);

    const lines = (await Deno.readTextFile(trace)).split("\n");
    // From the exec of /dotproxy on; before it, unshare, sh and chroot (root, on the host) ran.
    const start = lines.findIndex((line) => /execve\("\/dotproxy"/.test(line));
    assert.ok(start > 0, "strace saw /dotproxy start");
    const traced = lines.slice(start);
    const calls = new Set(traced.flatMap((line) => /^\d+ +([a-z0-9_]+)\(/.exec(line)?.[1] ?? []));
    assert.ok(calls.has("bind") && calls.has("accept4"), "the trace covers the listeners");
    assert.deepEqual([...calls].filter((call) => !allowed.has(call)).sort(), []);
    const families = new Set(traced.flatMap((line) => /\bsocket\((AF_\w+)/.exec(line)?.[1] ?? []));
    assert.deepEqual([...families].filter((f) => !["AF_INET", "AF_INET6"].includes(f)), []);
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(trace).catch(() => {});
  }
});
