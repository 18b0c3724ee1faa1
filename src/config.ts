/**
 * Command-line and environment configuration of dotproxy. Every setting is declared once in
 * {@linkcode SETTINGS}; precedence is flag > `DOTPROXY_*` variable > legacy variable > default.
 *
 * @module
 */

import { isIP } from "node:net";
import { parseArgs } from "node:util";
import {
  DEFAULT_DOT_PORT,
  DEFAULT_UPSTREAMS,
  parseUpstreamSpec,
  UpstreamSpecError,
} from "./upstream_spec.ts";
import type { UpstreamSpec } from "./upstream_spec.ts";

/** Lowest severity of log records that are written. */
export type LogLevel = "debug" | "info" | "warning" | "error";
/** Log output format: human-readable lines or one JSON object per line. */
export type LogFormat = "text" | "json";

/** The complete, validated configuration of one dotproxy process. */
export interface Config {
  /** IP addresses to listen on. */
  readonly listen: readonly string[];
  /** Port for both UDP and TCP; 0 asks the OS for an ephemeral port (used by tests). */
  readonly port: number;
  /** DNS-over-TLS upstreams, in configured order. */
  readonly upstreams: readonly UpstreamSpec[];
  /** Path of the extra CA bundle, if any. */
  readonly caFile: string | undefined;
  /** PEM text of each certificate in the CA file, one string per certificate; [] without one. */
  readonly caCerts: readonly string[];
  /** Deadline for one client query across all retries, in milliseconds. */
  readonly timeoutMs: number;
  /** Largest UDP answer sent to clients, in bytes. */
  readonly maxUdpSize: number;
  /** Lowest severity that is logged. */
  readonly logLevel: LogLevel;
  /** Log output format. */
  readonly logFormat: LogFormat;
  /** Most answers kept in the cache; 0 turns caching off. */
  readonly cacheSize: number;
  /** Lower bound on cached TTLs, in seconds. */
  readonly cacheMinTtl: number;
  /** Upper bound on cached TTLs, in seconds. */
  readonly cacheMaxTtl: number;
  /** How long after expiry an answer may still be served stale (RFC 8767), in seconds; 0 = never. */
  readonly staleTtl: number;
}

/** What {@linkcode parseConfig} reads besides the arguments. */
export interface ConfigEnvironment {
  /** Environment variables (e.g. Deno.env.toObject()). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Whether stderr is a terminal (chooses the default log format). */
  readonly isTerminal: boolean;
  /** Reads a text file; throws on failure (defaults to Deno.readTextFileSync). */
  readonly readTextFile?: (path: string) => string;
}

/** Outcome of {@linkcode parseConfig}: run with a config, or print help or the version. */
export type ParseResult =
  | { readonly kind: "run"; readonly config: Config }
  | { readonly kind: "help"; readonly text: string }
  | { readonly kind: "version" };

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

/** Help text printed by `--help`. */
export const USAGE = `dotproxy [options]
  -l, --listen ADDR     address to listen on, repeatable (default 127.0.0.1)
  -p, --port N          port for both UDP and TCP (default 53)
  -u, --upstream SPEC   DNS-over-TLS upstream, repeatable, tried in order of health:
                        IP[:PORT][#AUTH_NAME], IPv6 as [IP]:PORT#AUTH_NAME, PORT default 853;
                        default 1.1.1.1:853#cloudflare-dns.com and 1.0.0.1:853#cloudflare-dns.com
      --ca-file PATH    PEM bundle of extra CA certificates to trust for upstreams, e.g. a private
                        resolver's CA (Deno adds these to its built-in roots)
      --timeout MS      deadline for one client query across all retries (default 4000), then SERVFAIL
      --max-udp-size N  largest UDP answer sent to clients (default 1232, DNS Flag Day 2020)
      --log-level L     debug | info | warning | error (default info)
      --log-format F    text | json (default text on a terminal, json otherwise)
      --cache-size N    answers kept in memory (default 10000; 0 turns the cache off)
      --cache-min-ttl S lower bound on cached TTLs in seconds (default 0)
      --cache-max-ttl S upper bound on cached TTLs in seconds (default 86400)
      --stale-ttl S     serve expired answers up to S seconds old when upstreams fail
                        (RFC 8767; default 86400; 0 turns serve-stale off)
  -h, --help            usage; -V, --version

Environment (flags win over variables; empty variables count as unset):
  DOTPROXY_LISTEN        --listen, comma-separated
  DOTPROXY_PORT          --port
  DOTPROXY_UPSTREAMS     --upstream, comma-separated
  DOTPROXY_CA_FILE       --ca-file
  DOTPROXY_TIMEOUT       --timeout
  DOTPROXY_MAX_UDP_SIZE  --max-udp-size
  DOTPROXY_LOG_LEVEL     --log-level
  DOTPROXY_LOG_FORMAT    --log-format
  DOTPROXY_CACHE_SIZE    --cache-size
  DOTPROXY_CACHE_MIN_TTL --cache-min-ttl
  DOTPROXY_CACHE_MAX_TTL --cache-max-ttl
  DOTPROXY_STALE_TTL     --stale-ttl
Legacy variables, used when the DOTPROXY_* variable is unset:
  DOT_PORT               --port
  DOT_SERVER             one upstream SPEC (wins over DNS_SERVER_IP)
  DNS_SERVER_IP          one upstream IP, authenticated against the IP itself
  DNS_SERVER_PORT        port of DNS_SERVER_IP (default 853)
`;

type Env = ConfigEnvironment["env"];

/** Services available to setting parsers. */
interface ParseContext {
  readonly readTextFile: (path: string) => string;
}

/** Parses one raw value; throws {@linkcode ConfigError} naming `source` (e.g. `--port`). */
type Parser<T> = (raw: string, source: string, context: ParseContext) => T;

/** Reads variables that need custom handling; returns undefined when they are unset. */
type EnvReader<V> = (env: Env, context: ParseContext) => V | undefined;

/**
 * One setting with value type `V` (made of items of type `T` when repeatable): its long flag
 * (`--flag`), optional short flag, variables in order of precedence (a plain name is read with
 * `parse`, split on commas when repeatable), parser and default.
 */
interface Setting<V, T = V> {
  readonly flag: string;
  readonly short?: string;
  readonly repeatable?: boolean;
  readonly env: readonly (string | EnvReader<V>)[];
  readonly parse: Parser<T>;
  readonly default: (environment: ConfigEnvironment) => V;
}

/** Declares a setting that holds one value; a repeated flag keeps its last value. */
function single<V>(setting: Omit<Setting<V>, "repeatable">): Setting<V> {
  return setting;
}

/** Declares a repeatable setting; each flag occurrence or comma-separated item is one item. */
function list<T>(setting: Omit<Setting<readonly T[], T>, "repeatable">): Setting<readonly T[], T> {
  return { ...setting, repeatable: true };
}

interface CaBundle {
  readonly path: string;
  readonly certs: readonly string[];
}

function integer(min: number, max: number): Parser<number> {
  return (raw, source) => {
    const value = /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
    if (value >= min && value <= max) return value;
    throw new ConfigError(`Invalid ${source} "${raw}": expected an integer from ${min} to ${max}`);
  };
}

function oneOf<T extends string>(...choices: readonly T[]): Parser<T> {
  return (raw, source) => {
    const found = choices.find((choice) => choice === raw);
    if (found !== undefined) return found;
    throw new ConfigError(`Invalid ${source} "${raw}": expected one of ${choices.join(", ")}`);
  };
}

function parseIpAddress(raw: string, source: string): string {
  if (isIP(raw) !== 0) return raw;
  throw new ConfigError(`Invalid ${source} "${raw}": expected an IPv4 or IPv6 address`);
}

function parseUpstream(raw: string, source: string): UpstreamSpec {
  try {
    return parseUpstreamSpec(raw);
  } catch (error) {
    if (!(error instanceof UpstreamSpecError)) throw error;
    throw new ConfigError(`Invalid ${source} "${raw}": ${error.reason}`);
  }
}

function parseCaFile(raw: string, source: string, context: ParseContext): CaBundle {
  let text: string;
  try {
    text = context.readTextFile(raw);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    // Deno appends ": readfile '<path>'", which would repeat the path already quoted.
    throw new ConfigError(`Cannot read ${source} "${raw}": ${reason.replace(/: \w+ '.*'$/s, "")}`);
  }
  const certs = text.match(/-----BEGIN CERTIFICATE-----[^]*?-----END CERTIFICATE-----/g) ?? [];
  if (certs.length === 0 || certs.length !== text.split("-----BEGIN CERTIFICATE-----").length - 1) {
    const problem = certs.length === 0 ? "no" : "an unterminated";
    throw new ConfigError(
      `Invalid ${source} "${raw}": ${problem} -----BEGIN CERTIFICATE----- block`,
    );
  }
  return { path: raw, certs: certs.map((cert) => `${cert}\n`) };
}

/** Legacy `DOT_SERVER`: one upstream spec, not a list. */
function readDotServer(env: Env): readonly UpstreamSpec[] | undefined {
  const raw = nonEmpty(env, "DOT_SERVER");
  return raw === undefined ? undefined : [parseUpstream(raw, "DOT_SERVER")];
}

/** Legacy `DNS_SERVER_IP` (+ `DNS_SERVER_PORT`): one upstream authenticated against its IP. */
function readDnsServerIp(env: Env, context: ParseContext): readonly UpstreamSpec[] | undefined {
  const ip = nonEmpty(env, "DNS_SERVER_IP");
  const port = nonEmpty(env, "DNS_SERVER_PORT");
  if (port !== undefined) integer(1, 65535)(port, "DNS_SERVER_PORT", context);
  if (ip === undefined) {
    if (port === undefined) return undefined;
    throw new ConfigError(`Invalid DNS_SERVER_PORT "${port}": DNS_SERVER_IP is not set`);
  }
  const address = parseIpAddress(ip, "DNS_SERVER_IP");
  const host = isIP(address) === 6 ? `[${address}]` : address;
  return [parseUpstream(`${host}:${port ?? DEFAULT_DOT_PORT}`, "DNS_SERVER_IP")];
}

/** Every setting, once. Add a setting here and a field to {@linkcode Config}. */
const SETTINGS = {
  listen: list<string>({
    flag: "listen",
    short: "l",
    env: ["DOTPROXY_LISTEN"],
    parse: parseIpAddress,
    default: () => ["127.0.0.1"],
  }),
  port: single<number>({
    flag: "port",
    short: "p",
    env: ["DOTPROXY_PORT", "DOT_PORT"],
    parse: integer(0, 65535),
    default: () => 53,
  }),
  upstreams: list<UpstreamSpec>({
    flag: "upstream",
    short: "u",
    env: ["DOTPROXY_UPSTREAMS", readDotServer, readDnsServerIp],
    parse: parseUpstream,
    default: () => DEFAULT_UPSTREAMS,
  }),
  caFile: single<CaBundle | undefined>({
    flag: "ca-file",
    env: ["DOTPROXY_CA_FILE"],
    parse: parseCaFile,
    default: () => undefined,
  }),
  timeoutMs: single<number>({
    flag: "timeout",
    env: ["DOTPROXY_TIMEOUT"],
    parse: integer(1, 600000),
    default: () => 4000,
  }),
  maxUdpSize: single<number>({
    flag: "max-udp-size",
    env: ["DOTPROXY_MAX_UDP_SIZE"],
    parse: integer(512, 65535),
    default: () => 1232,
  }),
  logLevel: single<LogLevel>({
    flag: "log-level",
    env: ["DOTPROXY_LOG_LEVEL"],
    parse: oneOf("debug", "info", "warning", "error"),
    default: () => "info",
  }),
  logFormat: single<LogFormat>({
    flag: "log-format",
    env: ["DOTPROXY_LOG_FORMAT"],
    parse: oneOf("text", "json"),
    default: (environment) => environment.isTerminal ? "text" : "json",
  }),
  cacheSize: single<number>({
    flag: "cache-size",
    env: ["DOTPROXY_CACHE_SIZE"],
    parse: integer(0, 10_000_000),
    default: () => 10000,
  }),
  cacheMinTtl: single<number>({
    flag: "cache-min-ttl",
    env: ["DOTPROXY_CACHE_MIN_TTL"],
    parse: integer(0, 604800),
    default: () => 0,
  }),
  cacheMaxTtl: single<number>({
    flag: "cache-max-ttl",
    env: ["DOTPROXY_CACHE_MAX_TTL"],
    parse: integer(0, 604800),
    default: () => 86400,
  }),
  staleTtl: single<number>({
    flag: "stale-ttl",
    env: ["DOTPROXY_STALE_TTL"],
    parse: integer(0, 604800),
    default: () => 86400,
  }),
};

type Values = { [K in keyof typeof SETTINGS]: ReturnType<typeof SETTINGS[K]["default"]> };
type AnySetting = Setting<unknown, unknown>;

const FLAG_OPTIONS = {
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
  ...Object.fromEntries(
    Object.values(SETTINGS).map((s: AnySetting) => [
      s.flag,
      s.short === undefined ? { type: "string" } : { type: "string", short: s.short },
    ]),
  ),
} as const;

interface FlagValue {
  readonly raw: string;
  /** The flag as written, e.g. `-p` or `--port`. */
  readonly source: string;
}

/**
 * Parses command-line arguments and environment variables into a configuration. Every value
 * given is validated, even one that a higher-precedence source overrides; a flag given more
 * than once keeps its last value unless it is repeatable. `--help` and `--version` win.
 *
 * @example Flags win over variables
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseConfig } from "./config.ts";
 *
 * const result = parseConfig(["-p", "5353"], {
 *   env: { DOTPROXY_PORT: "53", DOTPROXY_UPSTREAMS: "9.9.9.9#dns.quad9.net" },
 *   isTerminal: false,
 * });
 * assert(result.kind === "run");
 * assert.equal(result.config.port, 5353);
 * assert.deepEqual(result.config.upstreams.map((u) => u.label), ["9.9.9.9:853#dns.quad9.net"]);
 * assert.equal(result.config.logFormat, "json");
 * ```
 *
 * @param args Command-line arguments without the program name (e.g. `Deno.args`).
 * @param environment Environment variables, terminal detection and file reading.
 * @returns What to do: run with a config, print help, or print the version.
 * @throws {ConfigError} On any bad flag, value or variable; the message is one line.
 */
export function parseConfig(args: readonly string[], environment: ConfigEnvironment): ParseResult {
  const flags = readFlags(args);
  if (flags === "help") return { kind: "help", text: USAGE };
  if (flags === "version") return { kind: "version" };
  const context = { readTextFile: environment.readTextFile ?? Deno.readTextFileSync };
  const values: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(SETTINGS)) {
    values[key] = resolve(s, flags.get(s.flag) ?? [], environment, context);
  }
  const { caFile, ...rest } = values as Values;
  const config: Config = { ...rest, caFile: caFile?.path, caCerts: caFile?.certs ?? [] };
  return { kind: "run", config: Object.freeze(config) };
}

function readFlags(args: readonly string[]): Map<string, FlagValue[]> | "help" | "version" {
  const { tokens } = parseArgs({
    args: [...args],
    options: FLAG_OPTIONS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const wanted = tokens.find((t) => t.kind === "option" && /^(help|version)$/.test(t.name));
  if (wanted?.kind === "option") return wanted.name === "help" ? "help" : "version";
  const flags = new Map<string, FlagValue[]>();
  for (const token of tokens) {
    if (token.kind === "positional") throw new ConfigError(`Unexpected argument "${token.value}"`);
    if (token.kind !== "option") continue;
    if (!Object.hasOwn(FLAG_OPTIONS, token.name)) {
      throw new ConfigError(`Unknown option ${token.rawName}`);
    }
    if (token.value === undefined) throw new ConfigError(`Missing value for ${token.rawName}`);
    if (!token.inlineValue && /^-./.test(token.value)) {
      throw new ConfigError(
        `Missing value for ${token.rawName}, got "${token.value}" ` +
          `(write --${token.name}=VALUE for a value starting with "-")`,
      );
    }
    const list = flags.get(token.name) ?? [];
    flags.set(token.name, [...list, { raw: token.value, source: token.rawName }]);
  }
  return flags;
}

function resolve(
  setting: AnySetting,
  flags: readonly FlagValue[],
  environment: ConfigEnvironment,
  context: ParseContext,
): unknown {
  const parsed = flags.map((flag) => setting.parse(flag.raw, flag.source, context));
  const fromFlags = flags.length === 0 ? undefined : setting.repeatable ? parsed : parsed.at(-1);
  const fromEnv = setting.env.map((source) => readEnv(setting, source, environment.env, context));
  const found = [fromFlags, ...fromEnv].find((value) => value !== undefined);
  return found ?? setting.default(environment);
}

function readEnv(
  setting: AnySetting,
  source: string | EnvReader<unknown>,
  env: Env,
  context: ParseContext,
): unknown {
  if (typeof source !== "string") return source(env, context);
  const raw = nonEmpty(env, source);
  if (raw === undefined) return undefined;
  if (!setting.repeatable) return setting.parse(raw, source, context);
  return raw.split(",").map((item) => {
    const trimmed = item.trim();
    if (trimmed === "") {
      throw new ConfigError(`Invalid ${source} "${raw}": empty item in comma-separated list`);
    }
    return setting.parse(trimmed, source, context);
  });
}

/** Returns a variable's value, treating an empty string as unset. */
function nonEmpty(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === "" ? undefined : value;
}
