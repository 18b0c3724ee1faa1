// The binary and the image as sources: `deno task compile` asks for exactly the permissions the
// proxy needs and compiles main.ts (the runtime download stubbed, since it cannot be reached
// here); the Dockerfile builds in the pinned Deno image and ends FROM scratch with the rootfs that
// packaging_scratch_test.ts runs, a numeric USER, and ENV the proxy's own parser accepts.

import assert from "node:assert/strict";
import { healthcheckTargets } from "../src/healthcheck.ts";
import {
  proxyConfig,
  readCompileTask,
  readDockerfile,
  repoPath,
  runtimeFlags,
  type Stage,
  stageEnv,
  taskWords,
} from "./_util/packaging_sources.ts";
import { deadPort } from "./_util/proxy_fixture.ts";
import { testdataPath } from "./_util/tools.ts";

/** Copies a source tree without its `*_test.ts` files (.dockerignore excludes them). */
async function copySources(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (entry.isDirectory) await copySources(`${from}/${entry.name}`, `${to}/${entry.name}`);
    else if (!entry.name.endsWith("_test.ts")) {
      await Deno.copyFile(`${from}/${entry.name}`, `${to}/${entry.name}`);
    }
  }
}

function args(stage: Stage, keyword: string): string[] {
  return stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.rest);
}

Deno.test("deno task compile enables unstable net, grants exactly net, read, env and ffi, and bakes in the heap setting", () => {
  const task = readCompileTask();
  assert.equal(task.entry, "main.ts");
  assert.equal(task.output, "dotproxy");
  assert.deepEqual(
    runtimeFlags(task).sort(),
    [
      "--allow-env",
      "--allow-ffi",
      "--allow-net",
      "--allow-read",
      "--unstable-net",
      "--v8-flags=--max-semi-space-size=4,--single-threaded-gc",
    ],
  );
  // The same V8 setting for `deno task start` as for the binary (see docs/deployment.md).
  const start = taskWords("start");
  assert.ok(
    start.includes("--v8-flags=--max-semi-space-size=4,--single-threaded-gc"),
    start.join(" "),
  );
  // Only what main.ts imports is embedded, not the test-only npm packages of deno.lock.
  assert.ok(task.flags.includes("--exclude-unused-npm"), "compile without --exclude-unused-npm");
  // The worker module of --workers is loaded by URL at run time: it must be embedded too.
  assert.ok(task.flags.includes("--include=src/workers/worker_main.ts"), task.flags.join(" "));
});

Deno.test("each permission of the compile task is needed", async () => {
  const flags = runtimeFlags();
  // Every run below fails at start-up, before any upstream is contacted.
  const start = [
    repoPath("main.ts"),
    ...[
      "--listen",
      "127.0.0.1",
      "--port",
      String(deadPort()),
      "--upstream",
      "127.0.0.1:9#dot.test",
    ],
    ...["--ca-file", testdataPath("tls", "ca.pem")],
  ];
  for (const permission of ["env", "read", "net"]) {
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", ...flags.filter((f) => f !== `--allow-${permission}`), ...start],
      env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1", DOTPROXY_LOG_FORMAT: "json" },
      clearEnv: true,
      stdin: "null",
      stdout: "null",
    }).output();
    assert.notEqual(code, 0, `runs without --allow-${permission}`);
    assert.match(new TextDecoder().decode(stderr), new RegExp(`Requires ${permission} access`));
  }
  // ffi: the UDP sockets that workers share (SO_REUSEPORT); without it only one worker runs.
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      ...flags.filter((f) => f !== "--allow-ffi"),
      ...start,
      "--workers",
      "2",
    ],
    env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1", DOTPROXY_LOG_FORMAT: "json" },
    clearEnv: true,
    stdin: "null",
    stdout: "null",
  }).output();
  assert.notEqual(code, 0, "runs two workers without --allow-ffi");
  assert.match(new TextDecoder().decode(stderr), /needs --allow-ffi/);
});

Deno.test("deno compile with the task's flags builds from the Docker context, embedding only main.ts's npm packages", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dotproxy-compile-" });
  try {
    // The build context as .dockerignore leaves it: deno.json, deno.lock, main.ts, src/ without
    // tests.
    for (const name of ["deno.json", "deno.lock", "main.ts"]) {
      await Deno.copyFile(repoPath(name), `${dir}/${name}`);
    }
    await copySources(repoPath("src"), `${dir}/src`);
    const task = readCompileTask();
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["compile", ...task.flags, "--output", `${dir}/out/dotproxy`, task.entry],
      cwd: dir,
      // deno compile would download the `denort` runtime, which this machine cannot reach.
      // DENORT_BIN (Deno's own test hook) points it at a local binary instead; the result cannot
      // run, but everything up to it (type check, module graph, npm embedding) is the real thing.
      env: { DENORT_BIN: Deno.execPath(), DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
      stdout: "null",
    }).output();
    const log = new TextDecoder().decode(stderr);
    assert.equal(code, 0, log);
    assert.ok((await Deno.stat(`${dir}/out/dotproxy`)).isFile);
    assert.match(log, /@logtape\/logtape/);
    assert.match(log, /\byaml\b/, "the --config file parser is embedded");
    assert.doesNotMatch(log, /dns-packet|kubernetes|js-yaml/, "test-only npm packages embedded");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the build stage compiles with the Deno image of our Deno version", () => {
  const [build, ...rest] = readDockerfile();
  assert.equal(rest.length, 1, "two stages: build and final");
  assert.equal(build!.from, `denoland/deno:debian-${Deno.version.deno}`);
  assert.equal(build!.name, "build");
  const runs = args(build!, "RUN");
  assert.ok(runs.includes("deno task compile"), runs.join("\n"));
  assert.ok(runs.includes("sh deploy/scratch-rootfs.sh /src/dotproxy /rootfs"), runs.join("\n"));
  assert.ok(args(build!, "COPY").some((c) => /deploy\/scratch-libs\.txt/.test(c)));
});

Deno.test("the final stage is FROM scratch with the rootfs only, non-root, exposing DNS", () => {
  const final = readDockerfile().at(-1)!;
  assert.equal(final.from, "scratch");
  assert.deepEqual(args(final, "COPY"), ["--from=build /rootfs/ /"]);
  assert.deepEqual(args(final, "RUN"), [], "no RUN: the image has no shell");
  assert.deepEqual(args(final, "USER"), ["65532:65532"]);
  assert.deepEqual(JSON.parse(args(final, "ENTRYPOINT")[0]!), ["/dotproxy"]);
  const exposed = args(final, "EXPOSE").join(" ").split(/\s+/);
  for (const port of ["53/udp", "53/tcp", "9153/tcp"]) assert.ok(exposed.includes(port), port);
  const [healthcheck] = args(final, "HEALTHCHECK");
  const command = /\bCMD\s+(\[.*\])$/.exec(healthcheck ?? "")?.[1];
  assert.deepEqual(JSON.parse(command ?? "null"), ["/dotproxy", "healthcheck"]);
});

Deno.test("the image's ENV is accepted by the proxy: all interfaces, port 53, metrics on 9153", () => {
  const final = readDockerfile().at(-1)!;
  const env = stageEnv(final);
  const config = proxyConfig([], env);
  assert.deepEqual(config.listen, ["0.0.0.0"]);
  assert.equal(config.port, 53);
  assert.deepEqual(config.http, { hostname: "0.0.0.0", port: 9153 });
  assert.ok(config.lameDuckMs > 0);
  // glibc reads it at the first malloc, so only the environment can set it (docs/performance.md).
  assert.equal(env.MALLOC_ARENA_MAX, "2");
  // HEALTHCHECK runs `/dotproxy healthcheck` with the same ENV: it must query loopback port 53.
  const targets = healthcheckTargets(proxyConfig(["healthcheck"], env));
  assert.deepEqual(targets.map((target) => [target.hostname, target.port]), [["127.0.0.1", 53]]);
});

Deno.test(".dockerignore admits exactly what the build stage copies", async () => {
  const ignore = (await Deno.readTextFile(repoPath(".dockerignore"))).split("\n")
    .filter((line) => line.trim() !== "" && !line.startsWith("#"));
  assert.equal(ignore[0], "*", "everything is excluded first");
  const admitted = ignore.filter((line) => line.startsWith("!")).map((line) => line.slice(1));
  const [build] = readDockerfile();
  const sources = args(build!, "COPY").flatMap((copy) => copy.split(/\s+/).slice(0, -1))
    .map((source) => source.replace(/^\.\//, ""));
  const expected = sources.map((source) =>
    Deno.statSync(repoPath(source)).isDirectory ? `${source}/` : source
  );
  assert.deepEqual(admitted.sort(), expected.sort());
});
