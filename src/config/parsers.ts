/**
 * Parsers of the settings of `config.ts` that read more than one value:
 * upstream specs, the CA bundle, and the legacy variables that name one
 * upstream.
 *
 * @module
 */

import { isIP } from "node:net";
import {
  DEFAULT_DOT_PORT,
  parseUpstreamSpec,
  type UpstreamSpec,
  UpstreamSpecError,
} from "../upstream/upstream_spec.ts";
import {
  ConfigError,
  type Env,
  integer,
  nonEmpty,
  type ParseContext,
  parseIpAddress,
  readNamedFile,
} from "./setting.ts";
import { loadSpecCertificate } from "./client_certificate.ts";

/** A CA bundle: its path and each certificate in it. */
export interface CaBundle {
  /** The file, as given. */
  readonly path: string;
  /** PEM text of each certificate, one string per certificate. */
  readonly certs: readonly string[];
}

/**
 * Parses an upstream spec, reading the client certificate it names, if any.
 *
 * @param raw The value.
 * @param source The flag or variable, for the error.
 * @param context Reads the client certificate files.
 * @returns The upstream.
 * @throws {ConfigError} When the spec is invalid or its certificate files are bad.
 */
export function parseUpstream(raw: string, source: string, context: ParseContext): UpstreamSpec {
  let spec: UpstreamSpec;
  try {
    spec = parseUpstreamSpec(raw);
  } catch (error) {
    if (!(error instanceof UpstreamSpecError)) throw error;
    throw new ConfigError(`Invalid ${source} "${raw}": ${error.reason}`);
  }
  return loadSpecCertificate(spec, raw, source, context);
}

/**
 * Reads a PEM bundle of CA certificates.
 *
 * @param raw The path.
 * @param source The flag or variable, for the error.
 * @param context Reads the file.
 * @returns The bundle.
 * @throws {ConfigError} When the file cannot be read or holds no complete certificate.
 */
export function parseCaFile(raw: string, source: string, context: ParseContext): CaBundle {
  const text = readNamedFile(raw, source, context);
  const certs = text.match(/-----BEGIN CERTIFICATE-----[^]*?-----END CERTIFICATE-----/g) ?? [];
  if (certs.length === 0 || certs.length !== text.split("-----BEGIN CERTIFICATE-----").length - 1) {
    const problem = certs.length === 0 ? "no" : "an unterminated";
    throw new ConfigError(
      `Invalid ${source} "${raw}": ${problem} -----BEGIN CERTIFICATE----- block`,
    );
  }
  return { path: raw, certs: certs.map((cert) => `${cert}\n`) };
}

/**
 * Legacy `DOT_SERVER`: one upstream spec, not a list.
 *
 * @param env The variables.
 * @param context Reads client certificate files.
 * @returns The upstream, or undefined when the variable is unset.
 */
export function readDotServer(
  env: Env,
  context: ParseContext,
): readonly UpstreamSpec[] | undefined {
  const raw = nonEmpty(env, "DOT_SERVER");
  return raw === undefined ? undefined : [parseUpstream(raw, "DOT_SERVER", context)];
}

/**
 * Legacy `DNS_SERVER_IP` (+ `DNS_SERVER_PORT`): one upstream authenticated against its IP.
 *
 * @param env The variables.
 * @param context Parser services.
 * @returns The upstream, or undefined when the variables are unset.
 */
export function readDnsServerIp(
  env: Env,
  context: ParseContext,
): readonly UpstreamSpec[] | undefined {
  const ip = nonEmpty(env, "DNS_SERVER_IP");
  const port = nonEmpty(env, "DNS_SERVER_PORT");
  if (port !== undefined) integer(1, 65535)(port, "DNS_SERVER_PORT", context);
  if (ip === undefined) {
    if (port === undefined) return undefined;
    throw new ConfigError(`Invalid DNS_SERVER_PORT "${port}": DNS_SERVER_IP is not set`);
  }
  const address = parseIpAddress(ip, "DNS_SERVER_IP");
  const host = isIP(address) === 6 ? `[${address}]` : address;
  return [parseUpstream(`${host}:${port ?? DEFAULT_DOT_PORT}`, "DNS_SERVER_IP", context)];
}
