/**
 * The machinery behind the settings table of `config.ts`: what a setting
 * declares, the error every bad value becomes, and the value parsers the
 * settings share.
 *
 * @module
 */

import { isIP } from "node:net";
import { type Cidr, parseCidr } from "../access/cidr.ts";

/** A bad command line or environment; the message is one line naming the flag or variable. */
export class ConfigError extends Error {
  /**
   * Creates a configuration error.
   *
   * @param message One line naming the flag or variable and the bad value.
   */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Environment variables, as read by `parseConfig`. */
export type Env = Readonly<Record<string, string | undefined>>;

/** Services available to setting parsers. */
export interface ParseContext {
  /** Reads a text file; throws on failure. */
  readonly readTextFile: (path: string) => string;
}

/** Parses one raw value; throws {@linkcode ConfigError} naming `source` (e.g. `--port`). */
export type Parser<T> = (raw: string, source: string, context: ParseContext) => T;

/** Reads variables that need custom handling; returns undefined when they are unset. */
export type EnvReader<V> = (env: Env, context: ParseContext) => V | undefined;

/** Whether stderr is a terminal, for defaults that depend on it. */
export interface DefaultContext {
  /** Whether stderr is a terminal. */
  readonly isTerminal: boolean;
}

/**
 * One setting with value type `V` (made of items of type `T` when repeatable): its long flag
 * (`--flag`), optional short flag, variables in order of precedence (a plain name is read with
 * `parse`, split on commas when repeatable), parser and default.
 */
export interface Setting<V, T = V> {
  /** Long flag without the dashes, e.g. `port`. */
  readonly flag: string;
  /** One-letter flag, e.g. `p`. */
  readonly short?: string;
  /** Each occurrence (or comma-separated item) adds one item to a list. */
  readonly repeatable?: boolean;
  /** A switch: `--flag` alone means "true" (`--flag=false` also works). */
  readonly boolean?: boolean;
  /** Variables, highest precedence first: names read with `parse`, or custom readers. */
  readonly env: readonly (string | EnvReader<V>)[];
  /** Parses one raw value (one item when repeatable). */
  readonly parse: Parser<T>;
  /** The value when no flag or variable gives one. */
  readonly default: (environment: DefaultContext) => V;
}

/**
 * Declares a setting that holds one value; a repeated flag keeps its last value.
 *
 * @param setting The declaration.
 * @returns The same declaration, typed.
 */
export function single<V>(setting: Omit<Setting<V>, "repeatable">): Setting<V> {
  return setting;
}

/**
 * Declares a repeatable setting; each flag occurrence or comma-separated item is one item.
 *
 * @param setting The declaration.
 * @returns The declaration, marked repeatable.
 */
export function list<T>(
  setting: Omit<Setting<readonly T[], T>, "repeatable">,
): Setting<readonly T[], T> {
  return { ...setting, repeatable: true };
}

/**
 * Parses a switch: true/false, 1/0, yes/no, on/off.
 *
 * @param raw The value.
 * @param source The flag or variable, for errors.
 * @returns The value.
 */
export function boolean(raw: string, source: string): boolean {
  const value = raw.toLowerCase();
  if (["true", "1", "yes", "on"].includes(value)) return true;
  if (["false", "0", "no", "off"].includes(value)) return false;
  throw new ConfigError(`Invalid ${source} "${raw}": expected true or false`);
}

/**
 * A parser of decimal integers within `[min, max]`.
 *
 * @param min Smallest value accepted.
 * @param max Largest value accepted.
 * @returns The parser.
 */
export function integer(min: number, max: number): Parser<number> {
  return (raw, source) => {
    const value = /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
    if (value >= min && value <= max) return value;
    throw new ConfigError(`Invalid ${source} "${raw}": expected an integer from ${min} to ${max}`);
  };
}

/**
 * A parser of one of a few words.
 *
 * @param choices The words accepted.
 * @returns The parser.
 */
export function oneOf<T extends string>(...choices: readonly T[]): Parser<T> {
  return (raw, source) => {
    const found = choices.find((choice) => choice === raw);
    if (found !== undefined) return found;
    throw new ConfigError(`Invalid ${source} "${raw}": expected one of ${choices.join(", ")}`);
  };
}

/**
 * Parses an IPv4 or IPv6 address.
 *
 * @param raw The value.
 * @param source The flag or variable, for the error.
 * @returns The address as given.
 * @throws {ConfigError} When `raw` is not an address.
 */
export function parseIpAddress(raw: string, source: string): string {
  if (isIP(raw) !== 0) return raw;
  throw new ConfigError(`Invalid ${source} "${raw}": expected an IPv4 or IPv6 address`);
}

/**
 * Parses an address range such as `10.0.0.0/8`.
 *
 * @param raw The value.
 * @param source The flag or variable, for the error.
 * @returns The range.
 * @throws {ConfigError} When `raw` is not a valid range.
 */
export function parseRange(raw: string, source: string): Cidr {
  try {
    return parseCidr(raw);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new ConfigError(`Invalid ${source} "${raw}": ${error.message}`);
  }
}

/**
 * Returns a variable's value, treating an empty string as unset.
 *
 * @param env The variables.
 * @param name The variable.
 * @returns The value, or undefined when unset or empty.
 */
export function nonEmpty(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === "" ? undefined : value;
}

/**
 * Reads a file named by a flag, a variable or a config key.
 *
 * @param raw The path as given.
 * @param source Where it was given, for the error (e.g. `--ca-file`).
 * @param context How to read files.
 * @returns The file's text.
 * @throws {ConfigError} Naming the source and the path when the file cannot be read.
 */
export function readNamedFile(raw: string, source: string, context: ParseContext): string {
  try {
    return context.readTextFile(raw);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    // Deno appends ": readfile '<path>'", which would repeat the path already quoted.
    throw new ConfigError(`Cannot read ${source} "${raw}": ${reason.replace(/: \w+ '.*'$/s, "")}`);
  }
}
