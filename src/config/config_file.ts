/**
 * The configuration file (`--config FILE`, `DOTPROXY_CONFIG`): a YAML map whose keys are the long
 * flag names (`port: 5353`, `upstream: [...]`, `forward-zone: [...]`), so that the file offers
 * exactly the settings the flags do. Each value goes through its setting's own parser; the
 * file sits below the variables and flags (see `parseConfig`).
 *
 * @module
 */

// deno-lint-ignore no-import-prefix -- pinned here, not in deno.json: docs/development.md
import { parseDocument } from "npm:yaml@2.9.1";
import {
  ConfigError,
  type ParseContext,
  type Parser,
  readNamedFile,
  type Setting,
  single,
} from "./setting.ts";

/** A configuration file, read and parsed as YAML but not yet checked against the settings. */
export interface ConfigFile {
  /** The file, as given. */
  readonly path: string;
  /** Its top-level keys and their values as YAML gave them. */
  readonly entries: Readonly<Record<string, unknown>>;
}

/**
 * Reads a configuration file and parses its YAML; the settings in it are checked by
 * {@linkcode fileValues}. An empty file holds no settings.
 *
 * @param raw The path.
 * @param source The flag or variable that named it, for errors.
 * @param context Reads the file.
 * @returns The file's top-level map.
 * @throws {ConfigError} When the file cannot be read, is not YAML or is not a map.
 */
export const readConfigFile: Parser<ConfigFile> = (raw, source, context) => {
  const document = parseDocument(readNamedFile(raw, source, context));
  const problem = document.errors[0];
  if (problem !== undefined) {
    const where = problem.linePos ? `line ${problem.linePos[0].line}: ` : "";
    const reason = problem.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
    throw new ConfigError(`Cannot parse config file ${raw}: ${where}${reason}`);
  }
  const entries: unknown = document.toJS({ maxAliasCount: 100 }) ?? {};
  if (typeof entries !== "object" || entries === null || Array.isArray(entries)) {
    throw new ConfigError(
      `Invalid config file ${raw}: expected a map of settings (key: value), got ${kind(entries)}`,
    );
  }
  return { path: raw, entries: entries as Record<string, unknown> };
};

/** The `--config` setting itself; it is not part of the settings table, and a file cannot set it. */
export const CONFIG_FILE_SETTING: Setting<ConfigFile | undefined> = single({
  flag: "config",
  env: ["DOTPROXY_CONFIG"],
  parse: readConfigFile,
  default: () => undefined,
});

/**
 * Checks every key of a configuration file against the settings and parses its values with the
 * settings' parsers: a single setting takes a scalar, a repeatable one a list of scalars or one
 * scalar. Numbers and booleans are parsed from their text; a key without a value is unset.
 *
 * @example A forward zone and the cache size
 * ```ts
 * import assert from "node:assert/strict";
 * import { fileValues } from "./config_file.ts";
 * import { integer, list, single } from "./setting.ts";
 *
 * const settings = {
 *   cacheSize: single({ flag: "cache-size", env: [], parse: integer(0, 99), default: () => 10 }),
 *   zones: list({ flag: "zone", env: [], parse: (raw) => raw, default: () => [] }),
 * };
 * const file = { path: "/x.yaml", entries: { "cache-size": 20, zone: "corp.example" } };
 * const values = fileValues(file, settings, { readTextFile: () => "" });
 * assert.deepEqual([...values], [["cache-size", 20], ["zone", ["corp.example"]]]);
 * ```
 *
 * @param file The file.
 * @param settings The settings table; its long flags are the keys allowed.
 * @param context Parser services.
 * @returns The parsed value of each setting the file gives, by long flag.
 * @throws {ConfigError} On an unknown key or a bad value, naming the key path and the file.
 */
export function fileValues(
  file: ConfigFile,
  settings: Readonly<Record<string, Setting<unknown, unknown>>>,
  context: ParseContext,
): Map<string, unknown> {
  const byFlag = new Map(Object.values(settings).map((setting) => [setting.flag, setting]));
  const values = new Map<string, unknown>();
  for (const [key, value] of Object.entries(file.entries)) {
    const setting = byFlag.get(key);
    if (setting === undefined) throw unknownKey(key, file.path, [...byFlag.keys()]);
    if (value === null) continue;
    const invalid = (path: string, reason: string) =>
      new ConfigError(`Invalid config file key "${path}" in ${file.path}: ${reason}`);
    const parse = (item: unknown, path: string) => {
      if (!isScalar(item)) {
        const expected = setting.repeatable ? "a string, number or true/false" : "a single value";
        throw invalid(path, `expected ${expected}, got ${kind(item)}`);
      }
      return parseItem(setting.parse, String(item), path, file.path, context);
    };
    if (!setting.repeatable) {
      values.set(key, parse(value, key));
    } else if (!Array.isArray(value)) {
      values.set(key, [parse(value, key)]);
    } else if (value.length === 0) {
      throw invalid(key, "expected at least one item, got an empty list (leave the key out)");
    } else {
      values.set(key, value.map((item, index) => parse(item, `${key}[${index}]`)));
    }
  }
  return values;
}

/** Parses one value, naming the key path, the value and the file in an error. */
function parseItem(
  parse: Parser<unknown>,
  raw: string,
  path: string,
  file: string,
  context: ParseContext,
): unknown {
  const source = `config file key "${path}"`;
  try {
    return parse(raw, source, context);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const quoted = `${source} "${raw}"`;
    const message = error.message.includes(quoted)
      ? error.message.replace(quoted, `${source} = "${raw}" in ${file}`)
      : `${error.message} (in ${file})`;
    throw new ConfigError(message);
  }
}

function isScalar(value: unknown): value is string | number | boolean {
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean";
}

function kind(value: unknown): string {
  if (Array.isArray(value)) return "a list";
  if (value instanceof Uint8Array) return "binary data";
  if (typeof value === "object" && value !== null) return "a map";
  return typeof value === "string" ? "a string" : `a ${typeof value}`;
}

function unknownKey(key: string, file: string, known: readonly string[]): ConfigError {
  if (key === "config") {
    return new ConfigError(
      `Invalid config file key "config" in ${file}: give --config or DOTPROXY_CONFIG instead`,
    );
  }
  const hint = suggest(key, known);
  return new ConfigError(
    `Unknown key "${key}" in ${file}` + (hint === undefined ? "" : ` (did you mean "${hint}"?)`),
  );
}

/** The known key closest to `key` (after dashing `snake_case` and `camelCase`), if any is close. */
function suggest(key: string, known: readonly string[]): string | undefined {
  const normal = key.replace(/([a-z0-9])([A-Z])/g, "$1-$2").replace(/_/g, "-").toLowerCase()
    .replace(/^(--|dotproxy-)/, "");
  let best: string | undefined;
  let bestDistance = Math.min(3, Math.floor(normal.length / 3) + 1);
  for (const candidate of known) {
    const distance = editDistance(normal, candidate);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

/** Levenshtein distance. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitute = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitute));
    }
    previous = current;
  }
  return previous[b.length]!;
}
