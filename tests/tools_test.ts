/**
 * The tests' external programs stay installable from one list: every program a test spawns, and
 * every program a systemd unit of deploy/ runs, is in the registry of tests/_util/tools.ts; its
 * package is in `.ci/run`'s APT_PACKAGES and in the README's prerequisites; `.ci/run`'s check_tools
 * checks it; and it is installed here. A gap fails, naming the Debian package to add.
 *
 * @module
 */

import assert from "node:assert/strict";
import { repoPath } from "./_util/packaging_sources.ts";
import { requireTool, TOOLS } from "./_util/tools.ts";

/** Packages .ci/run installs for no program of their own, and why. */
const NON_PROGRAM_PACKAGES: Readonly<Record<string, string>> = {
  "ca-certificates": "the system's TLS roots (npm, git over https), which a minimal Debian lacks",
};

const ciRun = await Deno.readTextFile(repoPath(".ci", "run"));

/** The words of the bash array `NAME=(...)` in .ci/run, comments dropped. */
function bashArray(name: string): string[] {
  const body = new RegExp(`^${name}=\\(([^)]*)\\)`, "m").exec(ciRun)?.[1];
  assert.ok(body !== undefined, `.ci/run has no ${name}=(...)`);
  return body.replace(/#.*$/gm, "").split(/\s+/).filter((word) => word !== "");
}

/** The `program:package` entries of .ci/run's check_tools, as a map. */
function checkedTools(): Map<string, string> {
  const list = /^check_tools\(\) \{[\s\S]*?\bfor entry in ([\s\S]*?); do$/m.exec(ciRun)?.[1];
  assert.ok(list !== undefined, ".ci/run's check_tools has no `for entry in ...; do` list");
  const entries = list.replace(/\\\n/g, " ").split(/\s+/).filter((word) => word !== "");
  return new Map(entries.map((entry) => {
    const [program, pkg] = entry.split(":");
    assert.ok(program && pkg, `check_tools entry ${entry} is not program:package`);
    return [program, pkg];
  }));
}

/** Every `.ts` file under `dir` (a path relative to the repository). */
async function* sourceFiles(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(repoPath(dir))) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* sourceFiles(path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

/** Programs named by a string literal in `requireTool("x"...)` or `new Deno.Command("x"...)`. */
async function spawnedPrograms(): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>();
  const pattern = /\b(?:requireTool|new Deno\.Command)\(\s*"([^"]+)"(?:,\s*"([^"]+)")?/g;
  for (const dir of ["src", "tests"]) {
    for await (const file of sourceFiles(dir)) {
      if (file === "tests/tools_test.ts") continue; // this scanner, whose comments name programs
      for (const match of (await Deno.readTextFile(repoPath(file))).matchAll(pattern)) {
        found.set(match[1]!, [...found.get(match[1]!) ?? [], file]);
        // A package given to requireTool must be the registry's (its error names it).
        if (match[2] !== undefined && TOOLS[match[1]!] !== undefined) {
          assert.equal(match[2], TOOLS[match[1]!], `${file}: requireTool("${match[1]}", ...)`);
        }
      }
    }
  }
  return found;
}

Deno.test("every program a test spawns is in the tool registry", async () => {
  const spawned = await spawnedPrograms();
  assert.ok(spawned.has("unbound") && spawned.has("sh"), "the scan finds no programs");
  const unlisted = [...spawned].filter(([program]) => TOOLS[program] === undefined)
    .map(([program, files]) => `${program} (${files.join(", ")})`);
  assert.deepEqual(unlisted, [], "add these to TOOLS in tests/_util/tools.ts with their package");
});

Deno.test("every program a systemd unit of deploy/ runs is in the tool registry", async () => {
  const programs: string[] = [];
  for await (const entry of Deno.readDir(repoPath("deploy", "systemd"))) {
    if (!entry.isFile || !entry.name.endsWith(".service")) continue;
    const unit = await Deno.readTextFile(repoPath("deploy", "systemd", entry.name));
    for (const [, command] of unit.matchAll(/^Exec\w*=[-@:+!]*(\S+)/gm)) {
      if (command !== "/usr/local/bin/dotproxy") programs.push(command!);
    }
  }
  assert.ok(programs.includes("/bin/kill"), programs.join(" "));
  for (const path of programs) {
    const program = path.slice(path.lastIndexOf("/") + 1);
    assert.ok(TOOLS[program] !== undefined, `${path}: add ${program} to tests/_util/tools.ts`);
  }
});

Deno.test(".ci/run installs the package of every registered program and checks the program", () => {
  const packages = new Set(bashArray("APT_PACKAGES"));
  const missing = [...new Set(Object.values(TOOLS))].filter((pkg) => !packages.has(pkg));
  assert.deepEqual(missing, [], "add these to APT_PACKAGES in .ci/run");
  const needed = new Set([...Object.values(TOOLS), ...Object.keys(NON_PROGRAM_PACKAGES)]);
  const unexplained = [...packages].filter((pkg) => !needed.has(pkg));
  assert.deepEqual(unexplained, [], "APT_PACKAGES installs these for no registered program");
  const checked = checkedTools();
  assert.equal(checked.get("deno"), "npm");
  checked.delete("deno");
  assert.deepEqual(
    Object.fromEntries([...checked].sort()),
    Object.fromEntries(Object.entries(TOOLS).sort()),
    ".ci/run's check_tools must list exactly tests/_util/tools.ts's programs, as program:package",
  );
});

Deno.test("the README's prerequisites name exactly the packages .ci/run installs", async () => {
  const readme = await Deno.readTextFile(repoPath("README.md"));
  const paragraph = readme.split("\n\n").find((text) => text.startsWith("Prerequisites:"));
  assert.ok(paragraph !== undefined, "README.md has no paragraph starting with Prerequisites:");
  const named = [...paragraph.matchAll(/`([a-z0-9][a-z0-9.+-]*)`/g)].map((m) => m[1]!);
  assert.deepEqual(named.sort(), bashArray("APT_PACKAGES").sort());
});

Deno.test("every registered program is installed", () => {
  const missing = Object.keys(TOOLS).flatMap((program) => {
    try {
      requireTool(program);
      return [];
    } catch {
      return [`${program} (install the Debian package ${TOOLS[program]})`];
    }
  });
  assert.deepEqual(missing, [], "bash .ci/run installs them");
});

Deno.test("requireTool finds programs (also in sbin) and names the package of a missing one", () => {
  assert.match(requireTool("sh"), /\/sh$/);
  assert.match(requireTool("unbound"), /\/unbound$/);
  const missing = "no-such-tool-xyz";
  assert.throws(() => requireTool(missing, "pkg-xyz"), {
    message: `${missing} not found: install the Debian package pkg-xyz (bash .ci/run installs it)`,
  });
  assert.throws(() => requireTool(missing), {
    message: `${missing} is not in the tool registry: add it to tests/_util/tools.ts`,
  });
});
