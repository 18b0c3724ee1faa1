/**
 * Command-line, environment and file configuration of dotproxy. Every setting is declared once in
 * {@linkcode SETTINGS}; precedence is flag > `DOTPROXY_*` variable > legacy variable > the
 * `--config` file > default.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { DEFAULT_UPSTREAMS, type UpstreamSpec } from "../upstream/upstream_spec.ts";
import { LIMIT_SETTINGS, type LimitsConfig } from "./limits.ts";
import {
  type CaBundle,
  parseCaFile,
  parseUpstream,
  readDnsServerIp,
  readDotServer,
} from "./parsers.ts";
import {
  ConfigError,
  type EnvReader,
  integer,
  list,
  nonEmpty,
  oneOf,
  type ParseContext,
  parseIpAddress,
  type Setting,
  single,
} from "./setting.ts";
import { USAGE } from "./usage.ts";
import { OPERATIONS_SETTINGS, type OperationsConfig } from "./operations.ts";
import { ROUTING_SETTINGS, type RoutingSettings } from "./routing.ts";
import { CONFIG_FILE_SETTING, fileValues } from "./config_file.ts";
import { applyClientCertificate, CLIENT_CERTIFICATE_SETTINGS } from "./client_certificate.ts";
import { DNSSEC_SETTINGS, type DnssecSettings } from "./dnssec.ts";

export { ConfigError } from "./setting.ts";
export { USAGE } from "./usage.ts";
export { DEFAULT_LIMITS, type LimitsConfig } from "./limits.ts";

import type { LogFormat, LogLevel } from "../log.ts";
export type { LogFormat, LogLevel } from "../log.ts";

/** The complete, validated configuration of one dotproxy process. */
export interface Config extends LimitsConfig, OperationsConfig, RoutingSettings, DnssecSettings {
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
  | { readonly kind: "run"; readonly config: Config; readonly configFile: string | undefined }
  | { readonly kind: "help"; readonly text: string }
  | { readonly kind: "version" };

type Env = ConfigEnvironment["env"];

/**
 * Every setting, once; the keys of a `--config` file are their long flags. Add a setting here
 * (or to `LIMIT_SETTINGS`), a field to {@linkcode Config}, its lines to `USAGE` and its key to
 * docs/dotproxy.example.yaml.
 */
export const SETTINGS = {
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
  ...CLIENT_CERTIFICATE_SETTINGS,
  ...LIMIT_SETTINGS,
  ...OPERATIONS_SETTINGS,
  ...ROUTING_SETTINGS,
  ...DNSSEC_SETTINGS,
};

type Values = { [K in keyof typeof SETTINGS]: ReturnType<typeof SETTINGS[K]["default"]> };
type AnySetting = Setting<unknown, unknown>;

const FLAG_OPTIONS = {
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
  ...Object.fromEntries(
    [...Object.values(SETTINGS), CONFIG_FILE_SETTING].map((s: AnySetting) => {
      const type = s.boolean ? "boolean" : "string";
      return [s.flag, s.short === undefined ? { type } : { type, short: s.short }];
    }),
  ),
} as const;

/** Flags that take no value. */
const SWITCHES = new Set(
  Object.values(SETTINGS).filter((s: AnySetting) => s.boolean).map((s: AnySetting) => s.flag),
);

interface FlagValue {
  readonly raw: string;
  /** The flag as written, e.g. `-p` or `--port`. */
  readonly source: string;
}

/**
 * Parses command-line arguments, environment variables and the `--config` file (read again on
 * every call) into a configuration. Every value given is validated, even one that a
 * higher-precedence source overrides; a flag given more than once keeps its last value unless
 * it is repeatable. `--help` and `--version` win.
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
  const file = resolve(CONFIG_FILE_SETTING, flags.get("config") ?? [], environment, context);
  const fromFile = file ? fileValues(file, SETTINGS, context) : new Map<string, unknown>();
  const values: Record<string, unknown> = {};
  for (const [key, s] of Object.entries<AnySetting>(SETTINGS)) {
    values[key] = resolve(s, flags.get(s.flag) ?? [], environment, context, fromFile.get(s.flag));
  }
  const { caFile, tlsClientCert, tlsClientKey, ...rest } = values as Values;
  // The global client certificate lives on in the upstream specs that use it, so that a
  // reload which changes it rebuilds exactly those upstreams.
  const withCertificates = applyClientCertificate({ ...rest, tlsClientCert, tlsClientKey });
  const config: Config = {
    ...rest,
    ...withCertificates,
    caFile: caFile?.path,
    caCerts: caFile?.certs ?? [],
  };
  return { kind: "run", config: Object.freeze(config), configFile: file?.path };
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
    if (token.value === undefined && SWITCHES.has(token.name)) {
      const list = flags.get(token.name) ?? [];
      flags.set(token.name, [...list, { raw: "true", source: token.rawName }]);
      continue;
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

function resolve<V>(
  setting: Setting<V, unknown>,
  flags: readonly FlagValue[],
  environment: ConfigEnvironment,
  context: ParseContext,
  fromFile?: unknown,
): V {
  const parsed = flags.map((flag) => setting.parse(flag.raw, flag.source, context));
  const fromFlags = flags.length === 0 ? undefined : setting.repeatable ? parsed : parsed.at(-1);
  const fromEnv = setting.env.map((source) => readEnv(setting, source, environment.env, context));
  const found = [fromFlags, ...fromEnv, fromFile].find((value) => value !== undefined);
  return (found ?? setting.default(environment)) as V;
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
