/**
 * Reads the packaging sources the tests check: the Dockerfile (stages, instructions, ENV), the
 * `compile` task of deno.json, and settings given as flags plus environment (parsed with the
 * proxy's own {@linkcode parseConfig}, so that a manifest cannot carry a flag the binary rejects).
 *
 * @module
 */

import { type Config, parseConfig } from "../../src/config/config.ts";

const REPO = decodeURIComponent(new URL("../../", import.meta.url).pathname);

/** Absolute path of a file in the repository, e.g. `repoPath("deploy", "Corefile")`. */
export function repoPath(...segments: string[]): string {
  return `${REPO}${segments.join("/")}`;
}

/** One Dockerfile instruction, continuation lines joined. */
export interface Instruction {
  /** Upper-case keyword, e.g. `COPY`. */
  readonly keyword: string;
  /** Everything after the keyword, trimmed. */
  readonly rest: string;
}

/** One build stage: its FROM image, its `AS` name and its instructions after FROM. */
export interface Stage {
  readonly from: string;
  readonly name: string | undefined;
  readonly instructions: readonly Instruction[];
}

/**
 * Splits a Dockerfile into stages. Comments, blank lines and parser directives are skipped; a
 * trailing backslash continues an instruction on the next line.
 *
 * @param text Dockerfile contents.
 * @returns The stages in order.
 */
export function parseDockerfile(text: string): Stage[] {
  const instructions: Instruction[] = [];
  let pending = "";
  for (const line of text.split("\n")) {
    if (/^\s*#/.test(line) || (pending === "" && line.trim() === "")) continue;
    pending += line.replace(/\\\s*$/, " ");
    if (/\\\s*$/.test(line)) continue;
    const match = /^\s*(\w+)\s+([^]*)$/.exec(pending);
    if (match === null) throw new SyntaxError(`Cannot parse Dockerfile line "${pending}"`);
    instructions.push({ keyword: match[1]!.toUpperCase(), rest: match[2]!.trim() });
    pending = "";
  }
  const stages: { from: string; name: string | undefined; instructions: Instruction[] }[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === "FROM") {
      const [from, as, name] = instruction.rest.split(/\s+/);
      stages.push({
        from: from!,
        name: as?.toUpperCase() === "AS" ? name : undefined,
        instructions: [],
      });
    } else {
      const stage = stages.at(-1);
      if (stage === undefined) throw new SyntaxError(`${instruction.keyword} before FROM`);
      stage.instructions.push(instruction);
    }
  }
  return stages;
}

/** The stages of the repository's Dockerfile. */
export function readDockerfile(): Stage[] {
  return parseDockerfile(Deno.readTextFileSync(repoPath("Dockerfile")));
}

/**
 * The variables a stage's ENV instructions set (`KEY=VALUE` pairs; no quoting is used).
 *
 * @param stage A stage from {@linkcode parseDockerfile}.
 */
export function stageEnv(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { keyword, rest } of stage.instructions) {
    if (keyword !== "ENV") continue;
    for (const pair of rest.split(/\s+/)) {
      const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(pair);
      if (match === null) throw new SyntaxError(`Cannot parse ENV "${pair}": expected KEY=VALUE`);
      env[match[1]!] = match[2]!;
    }
  }
  return env;
}

/** `deno task compile`, split into what it passes on to the runtime and the rest. */
export interface CompileTask {
  /** Every `--flag` except `--output` (unstable features, permissions, npm embedding). */
  readonly flags: readonly string[];
  /** The output file. */
  readonly output: string;
  /** The entry module. */
  readonly entry: string;
}

/** A task of deno.json, split into words. */
export function taskWords(name: string): string[] {
  const denoJson = JSON.parse(Deno.readTextFileSync(repoPath("deno.json")));
  return String(denoJson.tasks[name]).trim().split(/\s+/);
}

/** Reads and splits the `compile` task of deno.json. */
export function readCompileTask(): CompileTask {
  const words = taskWords("compile");
  if (words[0] !== "deno" || words[1] !== "compile") {
    throw new SyntaxError(`Cannot read the compile task "${words.join(" ")}"`);
  }
  const flags: string[] = [];
  let output = "";
  const positional: string[] = [];
  for (let i = 2; i < words.length; i++) {
    const word = words[i]!;
    if (word === "--output" || word === "-o") output = words[++i] ?? "";
    else if (word.startsWith("--output=")) output = word.slice("--output=".length);
    else if (word.startsWith("-")) flags.push(word);
    else positional.push(word);
  }
  if (positional.length !== 1) throw new SyntaxError("Cannot find the compile task's entry module");
  return { flags, output, entry: positional[0]! };
}

/** The runtime permission, unstable and V8 flags of the compile task (what the binary runs with). */
export function runtimeFlags(task: CompileTask = readCompileTask()): string[] {
  return task.flags.filter((flag) => /^--(allow|deny|unstable)-|^--v8-flags=/.test(flag));
}

/**
 * Parses flags and environment exactly as the proxy does at start-up (a `healthcheck`
 * subcommand is parsed like main.ts parses it). Throws the proxy's ConfigError on any flag or
 * variable the binary would reject.
 *
 * @param args Container or service arguments (after the program name).
 * @param env Its environment.
 * @returns The configuration it would run with.
 */
export function proxyConfig(args: readonly string[], env: Record<string, string>): Config {
  const rest = args[0] === "healthcheck" ? args.slice(1) : args;
  const result = parseConfig(rest, {
    env,
    isTerminal: false,
    // A manifest's --ca-file names a file inside the image or host, not here.
    readTextFile: () => "-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n",
  });
  if (result.kind !== "run") throw new Error(`Expected settings to run with, got ${result.kind}`);
  return result.config;
}

/**
 * Reads an environment file in systemd's `EnvironmentFile=` / Docker's `--env-file` subset:
 * `KEY=VALUE` lines, `#` comments and blank lines.
 *
 * @param text File contents.
 */
export function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split("\n")) {
    if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (match === null) throw new SyntaxError(`Cannot parse environment line "${line}"`);
    env[match[1]!] = match[2]!;
  }
  return env;
}
