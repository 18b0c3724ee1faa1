/**
 * Parsing of DNS-over-TLS upstream specifications such as `1.1.1.1:853#cloudflare-dns.com`.
 *
 * @module
 */

import { isIP } from "node:net";
import {
  type ClientCertificate,
  parseUpstreamOptions,
  type UpstreamOptions,
} from "./upstream_options.ts";

export type { ClientCertificate } from "./upstream_options.ts";

/** TCP port of DNS over TLS (RFC 7858), used when a spec gives none. */
export const DEFAULT_DOT_PORT = 853;

/** One DNS-over-TLS upstream resolver. */
export interface UpstreamSpec extends UpstreamOptions {
  /** IP address to dial (IPv4 dotted quad or IPv6 without brackets). */
  readonly address: string;
  /** TCP port, default 853. */
  readonly port: number;
  /**
   * Authentication domain name checked against the certificate (RFC 8310); the IP itself when
   * none was given.
   */
  readonly authName: string;
  /**
   * Canonical display form: `1.1.1.1:853#cloudflare-dns.com`,
   * `[2606:4700::1111]:853#cloudflare-dns.com`, `9.9.9.9:853` (no #name when authName is the IP).
   */
  readonly label: string;
  /**
   * The client certificate presented to this upstream: its own (`@client-cert=`) or the global
   * `--tls-client-cert`; filled in by the configuration, which reads the files.
   */
  readonly clientCert?: ClientCertificate;
}

/**
 * Error thrown by {@linkcode parseUpstreamSpec}. It is a `SyntaxError` that also carries the
 * offending text and the bare reason, so callers can reword the message (e.g. name the flag).
 */
export class UpstreamSpecError extends SyntaxError {
  /** The spec text that failed to parse. */
  readonly text: string;
  /** Why it failed, starting in lower case, e.g. `port must be an integer from 1 to 65535`. */
  readonly reason: string;

  /**
   * Creates an error with the message `Invalid upstream "TEXT": REASON`.
   *
   * @param text The spec text that failed to parse.
   * @param reason Why it failed, starting in lower case.
   */
  constructor(text: string, reason: string) {
    super(`Invalid upstream "${text}": ${reason}`);
    this.name = "UpstreamSpecError";
    this.text = text;
    this.reason = reason;
  }
}

const LABEL_PATTERN = /^[a-z0-9_-]+$/;

/**
 * Parses an upstream spec of the form `IP[:PORT][#AUTH_NAME][@OPTION]...`. IPv6 addresses are written as
 * `[IP]:PORT#AUTH_NAME`, `[IP]#AUTH_NAME` or `[IP]`; a bare IPv6 address without brackets is
 * accepted when everything before `#` is one valid IPv6 address. The address must be an IP
 * (there is no bootstrap DNS). PORT defaults to 853. AUTH_NAME is a hostname (a trailing dot is
 * removed and it is lowercased) or an IP address; without it the certificate must match the IP.
 * Each OPTION is `pin-sha256=BASE64`, `client-cert=PATH` or `client-key=PATH` (see
 * `upstream_options.ts`); the label leaves them out.
 *
 * @example Parse IPv4 and IPv6 specs
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseUpstreamSpec } from "./upstream_spec.ts";
 *
 * assert.deepEqual(parseUpstreamSpec("1.1.1.1#Cloudflare-DNS.com."), {
 *   address: "1.1.1.1",
 *   port: 853,
 *   authName: "cloudflare-dns.com",
 *   label: "1.1.1.1:853#cloudflare-dns.com",
 * });
 * assert.equal(parseUpstreamSpec("[2620:fe::fe]:8853").label, "[2620:fe::fe]:8853");
 * assert.throws(() => parseUpstreamSpec("dns.google"), SyntaxError);
 * ```
 *
 * @param text The spec, e.g. `9.9.9.9:853#dns.quad9.net`.
 * @returns The parsed, frozen upstream.
 * @throws {UpstreamSpecError} A `SyntaxError` describing what is wrong with `text`.
 */
export function parseUpstreamSpec(text: string): UpstreamSpec {
  const at = text.indexOf("@");
  const base = at === -1 ? text : text.slice(0, at);
  const hash = base.indexOf("#");
  const hostPort = hash === -1 ? base : base.slice(0, hash);
  const { address, port } = parseHostPort(text, hostPort);
  const authName = hash === -1 ? address : parseAuthName(text, base.slice(hash + 1));
  const host = isIP(address) === 6 ? `[${address}]` : address;
  const label = authName === address ? `${host}:${port}` : `${host}:${port}#${authName}`;
  let options: UpstreamOptions = {};
  try {
    if (at !== -1) options = parseUpstreamOptions(text.slice(at + 1));
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new UpstreamSpecError(text, error.message);
  }
  return Object.freeze({ address, port, authName, label, ...options });
}

/** A plaintext upstream for a forward zone inside the trust boundary (`udp://IP[:PORT]`). */
export interface PlainUpstreamSpec {
  /** Always true: queries to it travel unencrypted. */
  readonly plaintext: true;
  readonly address: string;
  /** UDP (and TCP) port, default 53. */
  readonly port: number;
  /** Display form, `udp://IP:PORT`. */
  readonly label: string;
}

/** Where a forward zone sends its queries. */
export type ForwardSpec = UpstreamSpec | PlainUpstreamSpec;

/**
 * Parses the resolver of a forward zone: a DNS-over-TLS spec as for
 * {@linkcode parseUpstreamSpec}, or an explicitly plaintext `udp://IP[:PORT]`
 * (port 53 by default).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseForwardSpec } from "./upstream_spec.ts";
 *
 * assert.equal(parseForwardSpec("udp://10.96.0.10").label, "udp://10.96.0.10:53");
 * assert.equal(parseForwardSpec("9.9.9.9#dns.quad9.net").label, "9.9.9.9:853#dns.quad9.net");
 * ```
 *
 * @param text The spec.
 * @returns The parsed spec.
 * @throws {UpstreamSpecError} When it cannot be parsed.
 */
export function parseForwardSpec(text: string): ForwardSpec {
  if (!text.startsWith("udp://")) return parseUpstreamSpec(text);
  const hostPort = text.slice("udp://".length);
  if (hostPort.includes("@")) {
    throw new UpstreamSpecError(text, "a plaintext upstream has no TLS options");
  }
  if (hostPort.includes("#")) {
    throw new UpstreamSpecError(text, "a plaintext upstream has no authentication name");
  }
  const { address, port } = parseHostPort(text, hostPort, 53);
  const host = isIP(address) === 6 ? `[${address}]` : address;
  return Object.freeze({ plaintext: true as const, address, port, label: `udp://${host}:${port}` });
}

/** The built-in upstreams: Cloudflare's two IPv4 resolvers. */
export const DEFAULT_UPSTREAMS: readonly UpstreamSpec[] = Object.freeze([
  parseUpstreamSpec("1.1.1.1:853#cloudflare-dns.com"),
  parseUpstreamSpec("1.0.0.1:853#cloudflare-dns.com"),
]);

interface HostPort {
  readonly address: string;
  readonly port: number;
}

function parseHostPort(text: string, hostPort: string, defaultPort = DEFAULT_DOT_PORT): HostPort {
  if (hostPort === "") {
    throw new UpstreamSpecError(text, "the IP address is missing, expected IP[:PORT][#AUTH_NAME]");
  }
  if (hostPort.startsWith("[")) return parseBracketed(text, hostPort, defaultPort);
  if (isIP(hostPort) === 6) return { address: hostPort, port: defaultPort };
  const colon = hostPort.lastIndexOf(":");
  const address = colon === -1 ? hostPort : hostPort.slice(0, colon);
  if (address.includes(":")) {
    throw new UpstreamSpecError(
      text,
      `"${hostPort}" is not an IPv6 address; write an IPv6 address with a port as [IP]:PORT`,
    );
  }
  if (address === "") {
    throw new UpstreamSpecError(text, "the IP address is missing, expected IP[:PORT][#AUTH_NAME]");
  }
  if (isIP(address) !== 4) {
    throw new UpstreamSpecError(
      text,
      `address "${address}" is not an IP address (hostnames are not supported: no bootstrap DNS)`,
    );
  }
  const port = colon === -1 ? defaultPort : parsePort(text, hostPort.slice(colon + 1));
  return { address, port };
}

function parseBracketed(text: string, hostPort: string, defaultPort: number): HostPort {
  const close = hostPort.indexOf("]");
  if (close === -1) throw new UpstreamSpecError(text, 'missing "]" after the IPv6 address');
  const address = hostPort.slice(1, close);
  if (isIP(address) !== 6) {
    throw new UpstreamSpecError(text, `"${address}" in brackets is not an IPv6 address`);
  }
  const rest = hostPort.slice(close + 1);
  if (rest === "") return { address, port: defaultPort };
  if (!rest.startsWith(":")) {
    throw new UpstreamSpecError(text, `expected ":PORT" or "#AUTH_NAME" after "]", got "${rest}"`);
  }
  return { address, port: parsePort(text, rest.slice(1)) };
}

function parsePort(text: string, raw: string): number {
  const port = /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    throw new UpstreamSpecError(text, "port must be an integer from 1 to 65535");
  }
  return port;
}

function parseAuthName(text: string, name: string): string {
  if (name === "") {
    throw new UpstreamSpecError(text, 'the authentication name after "#" is empty');
  }
  if (isIP(name) !== 0) return name;
  const host = (name.endsWith(".") ? name.slice(0, -1) : name).toLowerCase();
  if (host.length > 253) {
    throw new UpstreamSpecError(text, "the authentication name is longer than 253 characters");
  }
  for (const label of host.split(".")) {
    if (label === "") {
      throw new UpstreamSpecError(text, `the authentication name "${name}" has an empty label`);
    }
    if (label.length > 63) {
      throw new UpstreamSpecError(
        text,
        `the authentication name label "${label}" is longer than 63 characters`,
      );
    }
    if (!LABEL_PATTERN.test(label)) {
      throw new UpstreamSpecError(
        text,
        `the authentication name "${name}" must be a hostname (letters, digits, "-", "_") ` +
          "or an IP address",
      );
    }
  }
  return host;
}

/**
 * What makes two upstreams the same one across a reload: the label, and also the pins and the
 * client certificate (its text, so that a rotated certificate read again counts as a change).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseUpstreamSpec, upstreamKey } from "./upstream_spec.ts";
 *
 * const pin = "jglkVUaEj5oUsufyPzJdKIxjSZ1aS3jfUVjyZ77QGUI=";
 * assert.equal(upstreamKey(parseUpstreamSpec("9.9.9.9")), "9.9.9.9:853");
 * assert.notEqual(upstreamKey(parseUpstreamSpec(`9.9.9.9@pin-sha256=${pin}`)), "9.9.9.9:853");
 * ```
 *
 * @param spec The upstream.
 * @returns A string equal for equal upstreams.
 */
export function upstreamKey(spec: ForwardSpec): string {
  if ("plaintext" in spec) return spec.label;
  const { pins, clientCert } = spec;
  if (pins === undefined && clientCert === undefined) return spec.label;
  return JSON.stringify([spec.label, pins ?? [], clientCert?.cert ?? "", clientCert?.key ?? ""]);
}
