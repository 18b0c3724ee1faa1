/**
 * Client certificates for upstreams (mutual TLS): `--tls-client-cert` and `--tls-client-key`
 * for every DNS-over-TLS upstream, or `@client-cert=PATH@client-key=PATH` on one upstream spec,
 * which wins over the global pair. The files are read and checked here, when the configuration
 * is read, so that a bad or mismatched pair stops the start (or a reload) with one line naming
 * the flag, instead of failing every handshake later.
 *
 * @module
 */

import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import type { ForwardZoneConfig } from "../routing/routing.ts";
import type { ClientCertificate, ForwardSpec, UpstreamSpec } from "../upstream/upstream_spec.ts";
import { ConfigError, type ParseContext, readNamedFile, single } from "./setting.ts";

/** A PEM file read and parsed by one of the parsers below. */
export interface PemFile {
  /** The file, as given. */
  readonly path: string;
  /** Where it was given, e.g. `--tls-client-cert`, for errors. */
  readonly source: string;
  /** Its text. */
  readonly pem: string;
}

/** A certificate file: the chain's first certificate is the client's own. */
export interface CertificateFile extends PemFile {
  readonly leaf: X509Certificate;
}

/** A private key file. */
export interface KeyFile extends PemFile {
  readonly key: KeyObject;
}

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[^]*?-----END CERTIFICATE-----/g;

/**
 * Reads a client certificate chain (PEM, leaf first).
 *
 * @param raw The path.
 * @param source Where it was given, for errors.
 * @param context Reads the file.
 * @returns The file and its leaf certificate.
 * @throws {ConfigError} When it cannot be read or holds no valid certificate.
 */
export function parseCertificateFile(
  raw: string,
  source: string,
  context: ParseContext,
): CertificateFile {
  const pem = readNamedFile(raw, source, context);
  const blocks = pem.match(CERTIFICATE_BLOCK) ?? [];
  if (blocks.length === 0) {
    throw new ConfigError(`Invalid ${source} "${raw}": no -----BEGIN CERTIFICATE----- block`);
  }
  const certificates = blocks.map((block) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new ConfigError(
        `Invalid ${source} "${raw}": cannot parse a certificate (${(error as Error).message})`,
      );
    }
  });
  return { path: raw, source, pem, leaf: certificates[0]! };
}

/**
 * Reads a private key (PEM: PKCS#8, or RSA or EC in their own formats).
 *
 * @param raw The path.
 * @param source Where it was given, for errors.
 * @param context Reads the file.
 * @returns The file and its key.
 * @throws {ConfigError} When it cannot be read or holds no usable private key.
 */
export function parseKeyFile(raw: string, source: string, context: ParseContext): KeyFile {
  const pem = readNamedFile(raw, source, context);
  try {
    return { path: raw, source, pem, key: createPrivateKey(pem) };
  } catch (error) {
    throw new ConfigError(
      `Invalid ${source} "${raw}": cannot parse the private key (${(error as Error).message})`,
    );
  }
}

/**
 * Pairs a certificate with its key.
 *
 * @param cert The certificate file.
 * @param key The key file.
 * @returns The pair, as the connections use it.
 * @throws {ConfigError} When the key is not the certificate's.
 */
export function pairClientCertificate(cert: CertificateFile, key: KeyFile): ClientCertificate {
  if (!cert.leaf.checkPrivateKey(key.key)) {
    throw new ConfigError(
      `Invalid ${key.source} "${key.path}": the key does not match the certificate ` +
        `of ${cert.source} "${cert.path}"`,
    );
  }
  return Object.freeze({ certFile: cert.path, keyFile: key.path, cert: cert.pem, key: key.pem });
}

/**
 * Reads the client certificate an upstream spec names with `@client-cert=` and `@client-key=`.
 *
 * @param spec The parsed spec.
 * @param raw The spec as written, for errors.
 * @param source Where it was given (e.g. `--upstream`), for errors.
 * @param context Reads the files.
 * @returns The spec, with its certificate when it names one.
 * @throws {ConfigError} When a file is bad or the key does not match.
 */
export function loadSpecCertificate(
  spec: UpstreamSpec,
  raw: string,
  source: string,
  context: ParseContext,
): UpstreamSpec {
  if (spec.clientCertFile === undefined) return spec;
  const where = `${source} "${raw}" option`;
  const cert = parseCertificateFile(spec.clientCertFile, `${where} client-cert`, context);
  const key = parseKeyFile(spec.clientKeyFile!, `${where} client-key`, context);
  return Object.freeze({ ...spec, clientCert: pairClientCertificate(cert, key) });
}

/** The global pair, for the settings table of `config.ts`. */
export const CLIENT_CERTIFICATE_SETTINGS = {
  tlsClientCert: single<CertificateFile | undefined>({
    flag: "tls-client-cert",
    env: ["DOTPROXY_TLS_CLIENT_CERT"],
    parse: parseCertificateFile,
    default: () => undefined,
  }),
  tlsClientKey: single<KeyFile | undefined>({
    flag: "tls-client-key",
    env: ["DOTPROXY_TLS_CLIENT_KEY"],
    parse: parseKeyFile,
    default: () => undefined,
  }),
};

/** The settings that {@linkcode applyClientCertificate} reads and rewrites. */
export interface ClientCertificateValues {
  readonly upstreams: readonly UpstreamSpec[];
  readonly forwardZones: readonly ForwardZoneConfig[];
  readonly tlsClientCert: CertificateFile | undefined;
  readonly tlsClientKey: KeyFile | undefined;
}

/**
 * Gives the global client certificate to every DNS-over-TLS upstream, default or of a forward
 * zone, that has none of its own.
 *
 * @param values The settings as read.
 * @returns The upstreams and forward zones, with the certificate filled in.
 * @throws {ConfigError} When only one of the pair is given, or the key does not match.
 */
export function applyClientCertificate(
  values: ClientCertificateValues,
): Pick<ClientCertificateValues, "upstreams" | "forwardZones"> {
  const { upstreams, forwardZones, tlsClientCert, tlsClientKey } = values;
  if (tlsClientCert === undefined && tlsClientKey === undefined) return { upstreams, forwardZones };
  if (tlsClientCert === undefined || tlsClientKey === undefined) {
    const [given, missing] = tlsClientCert === undefined
      ? [tlsClientKey!, "--tls-client-cert"]
      : [tlsClientCert, "--tls-client-key"];
    throw new ConfigError(`Invalid ${given.source} "${given.path}": ${missing} is not set`);
  }
  const clientCert = pairClientCertificate(tlsClientCert, tlsClientKey);
  const give = (spec: UpstreamSpec): UpstreamSpec =>
    spec.clientCert !== undefined ? spec : Object.freeze({ ...spec, clientCert });
  const giveAny = (spec: ForwardSpec): ForwardSpec => "plaintext" in spec ? spec : give(spec);
  return {
    upstreams: upstreams.map(give),
    forwardZones: forwardZones.map((forward) =>
      Object.freeze({ ...forward, upstreams: forward.upstreams.map(giveAny) })
    ),
  };
}
