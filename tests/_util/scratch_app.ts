/**
 * What a `deno compile` binary embeds, laid out for the Deno CLI that stands in for it in the
 * scratch root filesystem (scratch_rootfs.ts): the app's code, a deno.lock cut down to the app's
 * own npm packages, and those packages in a DENO_DIR npm cache.
 *
 * @module
 */

const REPO = decodeURIComponent(new URL("../../", import.meta.url).pathname);

interface DenoInfo {
  modules: { kind: string; npmPackage?: string }[];
  npmPackages: Record<string, { name: string; dependencies: string[]; localPath: string }>;
}

interface Lockfile {
  specifiers?: Record<string, string>;
  npm?: Record<string, unknown>;
  [section: string]: unknown;
}

/**
 * Copies main.ts, deno.json, src/ and a cut-down deno.lock to `root + appDir`, and the app's npm
 * packages to `root + denoDir` (run the stand-in with DENO_DIR=denoDir and --cached-only).
 *
 * The repository's deno.lock also pins test-only npm packages, and `deno run` wants everything
 * its lockfile names in the cache; `deno compile --exclude-unused-npm` embeds only what main.ts
 * and deno.json's imports reach, so the stand-in gets a lockfile of just those.
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
  const { ids, names, info } = await appNpmPackages();
  const lock = JSON.parse(await Deno.readTextFile(`${REPO}deno.lock`)) as Lockfile;
  const specifiers = Object.entries(lock.specifiers ?? {})
    .filter(([specifier]) => names.has(/^npm:(@?[^@]+)@/.exec(specifier)?.[1] ?? ""));
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

/**
 * The npm packages main.ts reaches and deno.json imports, with their dependencies: their ids
 * (`name@version`), their names, and `deno info`'s view of the cache.
 */
async function appNpmPackages(): Promise<{ ids: Set<string>; names: Set<string>; info: DenoInfo }> {
  const { code, stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "main.ts"],
    cwd: REPO,
    env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
  }).output();
  if (code !== 0) throw new Error("deno info --json main.ts failed");
  const info = JSON.parse(new TextDecoder().decode(stdout)) as DenoInfo;
  const imports = JSON.parse(await Deno.readTextFile(`${REPO}deno.json`)).imports ?? {};
  const imported = Object.values(imports as Record<string, string>)
    .flatMap((target) => /^npm:(@?[^@]+)@/.exec(target)?.[1] ?? []);
  // deno info lists the lockfile's whole npm snapshot: start from what the module graph and
  // deno.json name, and follow dependencies.
  const wanted = [
    ...info.modules.flatMap((m) => m.kind === "npm" && m.npmPackage ? [m.npmPackage] : []),
    ...Object.entries(info.npmPackages).flatMap(([id, p]) => imported.includes(p.name) ? [id] : []),
  ];
  const ids = new Set<string>();
  while (wanted.length > 0) {
    const id = wanted.pop()!;
    if (ids.has(id)) continue;
    if (info.npmPackages[id] === undefined) throw new Error(`deno info lists no npm package ${id}`);
    ids.add(id);
    wanted.push(...info.npmPackages[id].dependencies);
  }
  const names = new Set([...ids].map((id) => info.npmPackages[id]!.name));
  return { ids, names: new Set([...names].filter((name) => imported.includes(name))), info };
}

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true, mode: 0o755 });
  for await (const entry of Deno.readDir(from)) {
    if (entry.isDirectory) await copyTree(`${from}/${entry.name}`, `${to}/${entry.name}`);
    else if (entry.isFile) await Deno.copyFile(`${from}/${entry.name}`, `${to}/${entry.name}`);
  }
}
