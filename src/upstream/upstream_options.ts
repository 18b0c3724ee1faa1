/**
 * The per-upstream TLS options written after an upstream spec, each after an `@`:
 * `1.1.1.1#cloudflare-dns.com@pin-sha256=BASE64@pin-sha256=BASE64` pins the server's key
 * (RFC 7858 §4.2, the SPKI pin of RFC 7469 §2.4), and `@client-cert=PATH@client-key=PATH`
 * presents a client certificate to this upstream only.
 *
 * @module
 */

/** A client certificate and its key, as PEM text read from the named files. */
export interface ClientCertificate {
  /** The certificate file (the chain, leaf first), as given. */
  readonly certFile: string;
  /** The private key file, as given. */
  readonly keyFile: string;
  /** PEM text of the certificate chain. */
  readonly cert: string;
  /** PEM text of the private key. */
  readonly key: string;
}

/** TLS options of one upstream, all optional. */
export interface UpstreamOptions {
  /**
   * Base64 SHA-256 digests of SubjectPublicKeyInfo; when present, the server's key must match
   * one of them, on top of the certificate and name check (Stubby's strict profile).
   */
  readonly pins?: readonly string[];
  /** Client certificate file for this upstream (both files or neither). */
  readonly clientCertFile?: string;
  /** Client key file for this upstream. */
  readonly clientKeyFile?: string;
}

const PIN_PATTERN = /^[A-Za-z0-9+/]{43}=$/;

/**
 * Parses the options after the first `@` of an upstream spec.
 *
 * @example Two pins
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseUpstreamOptions } from "./upstream_options.ts";
 *
 * const pin = "jglkVUaEj5oUsufyPzJdKIxjSZ1aS3jfUVjyZ77QGUI=";
 * assert.deepEqual(parseUpstreamOptions(`pin-sha256=${pin}`), { pins: [pin] });
 * assert.throws(() => parseUpstreamOptions("pin-sha256=abc"), /32-byte SHA-256 digest/);
 * ```
 *
 * @param text The options, without the first `@` (e.g. `pin-sha256=X@pin-sha256=Y`).
 * @returns The options.
 * @throws {SyntaxError} Saying what is wrong, starting in lower case.
 */
export function parseUpstreamOptions(text: string): UpstreamOptions {
  const pins: string[] = [];
  let certFile: string | undefined;
  let keyFile: string | undefined;
  for (const option of text.split("@")) {
    const equals = option.indexOf("=");
    const name = equals === -1 ? option : option.slice(0, equals);
    const value = equals === -1 ? "" : option.slice(equals + 1);
    if (value === "") {
      throw new SyntaxError(`option "${option}" needs a value, e.g. pin-sha256=BASE64`);
    }
    if (name === "pin-sha256") {
      if (!PIN_PATTERN.test(value)) {
        throw new SyntaxError(
          `pin-sha256 "${value}" is not a base64 32-byte SHA-256 digest (44 characters)`,
        );
      }
      if (!pins.includes(value)) pins.push(value);
    } else if (name === "client-cert" || name === "client-key") {
      if ((name === "client-cert" ? certFile : keyFile) !== undefined) {
        throw new SyntaxError(`option ${name} is given twice`);
      }
      if (name === "client-cert") certFile = value;
      else keyFile = value;
    } else {
      throw new SyntaxError(
        `unknown option "${name}" after "@" (expected pin-sha256, client-cert or client-key)`,
      );
    }
  }
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new SyntaxError("client-cert and client-key must be given together");
  }
  return {
    ...(pins.length > 0 && { pins: Object.freeze(pins) }),
    ...(certFile !== undefined && keyFile !== undefined &&
      { clientCertFile: certFile, clientKeyFile: keyFile }),
  };
}
