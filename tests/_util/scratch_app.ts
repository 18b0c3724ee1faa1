/**
 * What a `deno compile` binary embeds, laid out for the Deno CLI that stands in for it in the
 * scratch root filesystem (scratch_rootfs.ts): the app's code, a deno.lock cut down to the app's
 * own npm packages, and those packages in a DENO_DIR npm cache.
 *
 * @module
 */

import { productNpmPackages } from "./product_packages.ts";

const REPO = decodeURIComponent(new URL("../../", import.meta.url).pathname);

interface Lockfile {
  specifiers?: Record<string, string>;
  npm?: Record<string, unknown>;
  [section: string]: unknown;
}

/**
 * Copies main.ts, deno.json, src/ and a cut-down deno.lock to `root + appDir`, and the app's npm
 * packages to `root + denoDir` (run the stand-in with DENO_DIR=denoDir and --cached-only).
 *
 * The repository's deno.lock also pins test-only npm packages; `deno compile
 * --exclude-unused-npm` embeds only what main.ts reaches, so the stand-in gets a lockfile of just
 * those (run it with `--lock=/app/deno.lock`, as `deno task start` runs with deno.lock).
 *
 * @param root The root filesystem.
 * @param appDir Absolute directory inside it for the code, e.g. `/app`.
 * @param denoDir Absolute directory inside it for the npm cache, e.g. `/deno-dir`.
 */
export async function addAppStandIn(root: string, appDir: string, denoDir: string): Promise<void> {
  await copyTree(`${REPO}src`, `${root}${appDir}/src`);
  for (const name of ["main.ts", "deno.json"]) {
    await Deno.copyFile(`${REPO}${name}`, `${root}${appDir}/${name}`);
  }
  const { ids, imported, info } = await productNpmPackages();
  const lock = JSON.parse(await Deno.readTextFile(`${REPO}deno.lock`)) as Lockfile;
  const specifiers = Object.entries(lock.specifiers ?? {})
    .filter(([specifier]) => imported.has(/^npm:(@?[^@]+)@/.exec(specifier)?.[1] ?? ""));
  const npm = Object.entries(lock.npm ?? {}).filter(([id]) => ids.has(id));
  const cut = { ...lock, specifiers: Object.fromEntries(specifiers), npm: Object.fromEntries(npm) };
  await Deno.writeTextFile(`${root}${appDir}/deno.lock`, JSON.stringify(cut, null, 2) + "\n");
  for (const id of ids) {
    const dir = info.npmPackages[id]!.localPath; // .../npm/registry.npmjs.org/NAME/VERSION
    const relative = dir.slice(dir.lastIndexOf("/npm/") + 1);
    const packageDir = relative.slice(0, relative.lastIndexOf("/"));
    await copyTree(dir, `${root}${denoDir}/${relative}`);
    // Deno fetches a package's registry.json only when it resolves a version itself; a package
    // pinned by deno.lock (such as a dependency of a dependency) is fetched without one, and the
    // stand-in resolves from the lockfile too. So the file is copied when the cache has it.
    const registryJson = `${dir.slice(0, dir.lastIndexOf("/"))}/registry.json`;
    try {
      await Deno.copyFile(registryJson, `${root}${denoDir}/${packageDir}/registry.json`);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
}

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true, mode: 0o755 });
  for await (const entry of Deno.readDir(from)) {
    if (entry.isDirectory) await copyTree(`${from}/${entry.name}`, `${to}/${entry.name}`);
    else if (entry.isFile) await Deno.copyFile(`${from}/${entry.name}`, `${to}/${entry.name}`);
  }
}
