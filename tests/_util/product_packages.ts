/**
 * The npm packages of the product itself: what `main.ts`'s module graph reaches, as
 * `deno info --json` sees it, with their dependencies. Test-only packages (dns-packet, the
 * Kubernetes client) are pinned in the same deno.lock but must never be among them
 * (docs/development.md).
 *
 * @module
 */

const REPO = decodeURIComponent(new URL("../../", import.meta.url).pathname);

/** The part of `deno info --json` output read here. */
export interface DenoInfo {
  modules: { kind: string; npmPackage?: string }[];
  npmPackages: Record<string, { name: string; dependencies: string[]; localPath: string }>;
}

/** The product's npm packages, from {@linkcode productNpmPackages}. */
export interface ProductPackages {
  /** Every package main.ts reaches, directly or not, as `name@version` (deno info's ids). */
  readonly ids: ReadonlySet<string>;
  /** The names of the packages main.ts's modules import themselves. */
  readonly imported: ReadonlySet<string>;
  /** `deno info`'s view of the npm cache (`localPath` of each package). */
  readonly info: DenoInfo;
}

/**
 * Runs `deno info --json --lock=deno.lock main.ts` in the repository and follows the npm
 * packages its modules import through their dependencies. `deno info` also lists every package
 * of the lockfile in `npmPackages`; only the module graph says which ones the product uses.
 *
 * @throws {Error} when `deno info` fails or names a dependency it does not list
 */
export async function productNpmPackages(): Promise<ProductPackages> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--lock=deno.lock", "main.ts"],
    cwd: REPO,
    env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
  }).output();
  if (code !== 0) {
    throw new Error(`deno info --json main.ts failed: ${new TextDecoder().decode(stderr)}`);
  }
  const info = JSON.parse(new TextDecoder().decode(stdout)) as DenoInfo;
  const direct = info.modules.flatMap((m) =>
    m.kind === "npm" && m.npmPackage ? [m.npmPackage] : []
  );
  const wanted = [...direct];
  const ids = new Set<string>();
  while (wanted.length > 0) {
    const id = wanted.pop()!;
    if (ids.has(id)) continue;
    const entry = info.npmPackages[id];
    if (entry === undefined) throw new Error(`deno info lists no npm package ${id}`);
    ids.add(id);
    wanted.push(...entry.dependencies);
  }
  const imported = new Set(direct.map((id) => info.npmPackages[id]!.name));
  return { ids, imported, info };
}
