// Shared by the config tests: fake CA files, a parseConfig runner and error assertions.

import assert from "node:assert/strict";
import { ConfigError, DEFAULT_LIMITS, parseConfig } from "./config.ts";
import type { Config, ConfigEnvironment } from "./config.ts";
import { OPERATIONS_SETTINGS } from "./operations.ts";
import { ROUTING_SETTINGS } from "./routing.ts";
import { DNSSEC_SETTINGS } from "./dnssec.ts";

export const CERT_A = "-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----";
export const CERT_B = "-----BEGIN CERTIFICATE-----\nMIIBBBBB\n-----END CERTIFICATE-----";

/** Reads fake files; any other path fails like Deno does. */
export function fakeFiles(files: Record<string, string>): (path: string) => string {
  return (path) => {
    const text = files[path];
    if (text === undefined) {
      throw new Deno.errors.NotFound(`No such file or directory (os error 2): readfile '${path}'`);
    }
    return text;
  };
}

export const FILES = fakeFiles({
  "/ca.pem": `# private CA\n${CERT_A}\n${CERT_B}\n`,
  "/other.pem": `${CERT_B}\n`,
  "/empty.pem": "",
  "/key.pem": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n",
  "/cut.pem": `${CERT_A}\n-----BEGIN CERTIFICATE-----\nMIIB\n`,
});

export function environment(
  env: Record<string, string> = {},
  isTerminal = false,
): ConfigEnvironment {
  return { env, isTerminal, readTextFile: FILES };
}

export function run(
  args: readonly string[],
  env: Record<string, string> = {},
  isTerminal = false,
): Config {
  const result = parseConfig(args, environment(env, isTerminal));
  assert.equal(result.kind, "run");
  assert(result.kind === "run");
  return result.config;
}

/** Splits a command line on spaces. */
export function argv(line: string): string[] {
  return line === "" ? [] : line.split(" ");
}

export function labels(config: Config): string[] {
  return config.upstreams.map((upstream) => upstream.label);
}

/**
 * The config with upstreams as text, without the limits and operations
 * settings (config_limits_test.ts and config_operations_test.ts cover those).
 */
export function plain(config: Config): Record<string, unknown> {
  const rest: Record<string, unknown> = { ...config, upstreams: labels(config) };
  const separate = [OPERATIONS_SETTINGS, ROUTING_SETTINGS, DNSSEC_SETTINGS].flatMap(Object.keys);
  for (const key of [...Object.keys(DEFAULT_LIMITS), ...separate]) {
    delete rest[key];
  }
  return rest;
}

export function assertConfigError(
  args: readonly string[],
  env: Record<string, string>,
  message: string,
): void {
  assert.throws(() => parseConfig(args, environment(env)), (error) => {
    assert(error instanceof ConfigError);
    assert.equal(error.name, "ConfigError");
    assert.equal(error.message, message);
    assert(!error.message.includes("\n"));
    return true;
  });
}
