/**
 * A newcomer's first start: `deno task start` on a fresh clone fetches the product's own npm
 * packages and nothing else, although deno.lock also pins the test-only ones (dns-packet, the
 * Kubernetes client and its ~90 dependencies). How that is arranged, and why a workspace member
 * for the tests would not do it: docs/development.md.
 *
 * @module
 */

import assert from "node:assert/strict";
import { buildQuery, decode, udpQuery } from "./_util/dns_client.ts";
import { repoPath, taskWords } from "./_util/packaging_sources.ts";
import { productNpmPackages } from "./_util/product_packages.ts";
import { deadPort } from "./_util/proxy_fixture.ts";

/**
 * The npm packages the product may use (names, sorted). A package added here is one more
 * download before every first start and one more dependency in the binary: it needs a reason.
 */
const PRODUCT_NPM_PACKAGES = ["@logtape/logtape", "@opentelemetry/api", "yaml"];

/** `deno` subcommands that resolve npm packages, and so must be given the lockfile. */
const RESOLVING_SUBCOMMANDS = new Set(["run", "test", "check", "compile", "bench", "cache"]);

Deno.test("main.ts's module graph holds only the product's npm packages", async () => {
  const { ids, info } = await productNpmPackages();
  const names = [...new Set([...ids].map((id) => info.npmPackages[id]!.name))].sort();
  assert.deepEqual(names, PRODUCT_NPM_PACKAGES);
});

Deno.test("deno.json gives deno task nothing to install, and every task pins npm packages with deno.lock", async () => {
  const config = JSON.parse(await Deno.readTextFile(repoPath("deno.json")));
  // `deno task` installs, before any task, every npm package of the lockfile it discovers and
  // of the imports map: lock discovery off, and no npm package in the imports.
  assert.equal(config.lock, false, 'deno.json must set "lock": false');
  const mapped = Object.values({ ...config.imports, ...config.scopes } as Record<string, unknown>);
  assert.deepEqual(mapped.filter((target) => String(target).startsWith("npm:")), []);
  assert.ok(config.unstable?.includes("npm-lazy-caching"), "deno run must fetch only what it uses");
  for (const name of Object.keys(config.tasks)) {
    const words = taskWords(name);
    words.forEach((word, i) => {
      if (word !== "deno" || !RESOLVING_SUBCOMMANDS.has(words[i + 1] ?? "")) return;
      assert.equal(words[i + 2], "--lock=deno.lock", `task ${name}: deno ${words[i + 1]} ...`);
    });
  }
});

Deno.test("deno task start answers its first query from a cache of the product's packages alone, the npm registry unreachable", async () => {
  const denoDir = await Deno.makeTempDir({ prefix: "dotproxy-first-start-" });
  try {
    await seedNpmCache(denoDir);
    const port = deadPort();
    const child = new Deno.Command(Deno.execPath(), {
      args: ["task", "start", "--port", String(port)],
      cwd: repoPath(),
      env: {
        DENO_DIR: denoDir,
        // Any package missing from the cache would have to come through this proxy, which is
        // not there. (Another NPM_CONFIG_REGISTRY would not do: the cache is kept per registry.)
        HTTPS_PROXY: `http://127.0.0.1:${deadPort()}`,
        HTTP_PROXY: `http://127.0.0.1:${deadPort()}`,
        DENO_NO_UPDATE_CHECK: "1",
        NO_COLOR: "1",
        PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      },
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let answer: string[] | undefined;
    try {
      answer = await firstLocalhostAnswer(port, child.status);
    } finally {
      try {
        child.kill("SIGTERM");
      } catch {
        // It has exited already; its output says why.
      }
      const { stderr } = await child.output();
      if (answer === undefined) assert.fail(new TextDecoder().decode(stderr));
    }
    assert.deepEqual(answer, ["127.0.0.1"]);
  } finally {
    await Deno.remove(denoDir, { recursive: true });
  }
});

/**
 * Copies the product's npm packages, and the registry metadata `deno run` reads for them, from
 * the cache this test runs with into `denoDir`.
 */
async function seedNpmCache(denoDir: string): Promise<void> {
  const { ids, info } = await productNpmPackages();
  for (const id of ids) {
    const from = info.npmPackages[id]!.localPath; // .../npm/registry.npmjs.org/NAME/VERSION
    const relative = from.slice(from.lastIndexOf("/npm/") + 1);
    await copyTree(from, `${denoDir}/${relative}`);
    const registryJson = `${from.slice(0, from.lastIndexOf("/"))}/registry.json`;
    const packageDir = relative.slice(0, relative.lastIndexOf("/"));
    await Deno.copyFile(registryJson, `${denoDir}/${packageDir}/registry.json`);
  }
}

/**
 * The addresses of the first answer to `localhost. A` (a zone the proxy answers itself) from
 * 127.0.0.1:`port`, asking every 100 ms for about 60 s; undefined if the process ends first.
 */
async function firstLocalhostAnswer(
  port: number,
  exited: Promise<Deno.CommandStatus>,
): Promise<string[] | undefined> {
  let done = false;
  exited.finally(() => done = true);
  for (let i = 0; i < 600 && !done; i++) {
    try {
      const reply = decode(await udpQuery(port, buildQuery("localhost", "A"), { timeoutMs: 100 }));
      return reply.answers.map((record) => String(record.data));
    } catch {
      // Not listening yet (deno task is still starting): ask again a little later.
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return undefined;
}

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (entry.isDirectory) await copyTree(`${from}/${entry.name}`, `${to}/${entry.name}`);
    else if (entry.isFile) await Deno.copyFile(`${from}/${entry.name}`, `${to}/${entry.name}`);
  }
}
