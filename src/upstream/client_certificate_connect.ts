/**
 * Opening a DNS-over-TLS connection that presents a client certificate (mutual TLS).
 *
 * `Deno.startTls`, which the other connections use so that Nagle's algorithm can be turned
 * off first, takes no client certificate; `Deno.connectTls` does. It dials the IP and checks
 * the certificate against the authentication name through the name Deno's own `node:tls`
 * uses for a server name that differs from the address dialled (`Symbol.for
 * ("unstableServerName")`). Were a Deno release to ignore it, the certificate would be checked
 * against the IP instead: the handshake would fail, never pass unchecked.
 *
 * Cost: `connectTls` offers no `setNoDelay`, so on these connections a query written while an
 * earlier one is unacknowledged may wait for the server's ACK (usually carried by the earlier
 * reply). See docs/security.md.
 *
 * @module
 */

import type { UpstreamSpec } from "./upstream_spec.ts";
import { describeConnectError } from "./tls_error.ts";
import { UpstreamError } from "./upstream_error.ts";

const SERVER_NAME = Symbol.for("unstableServerName");

/** Where and how to connect. */
export interface ClientCertificateConnectOptions {
  readonly spec: UpstreamSpec;
  /** Extra trusted CA certificates (PEM), added to the built-in roots. */
  readonly caCerts: readonly string[];
  /** Deadline for TCP connect plus TLS handshake. */
  readonly connectTimeoutMs: number;
}

const CONNECT_ERRORS = [
  Deno.errors.ConnectionRefused,
  Deno.errors.ConnectionReset,
  Deno.errors.TimedOut,
  Deno.errors.AddrNotAvailable,
  Deno.errors.NotConnected,
];

/**
 * Connects to `spec.address`, verifying the chain and `spec.authName` and presenting
 * `spec.clientCert`; completes the handshake.
 *
 * @param options Where and how to connect; `spec.clientCert` must be set.
 * @returns The open connection.
 * @throws {UpstreamError} With reason "connect" or "tls".
 */
export async function connectWithClientCertificate(
  options: ClientCertificateConnectOptions,
): Promise<Deno.TlsConn> {
  const { spec } = options;
  const clientCert = spec.clientCert!;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new DOMException("timed out", "TimeoutError")),
      options.connectTimeoutMs,
    );
  });
  const connecting = (async () => {
    const conn = await Deno.connectTls(
      {
        hostname: spec.address,
        port: spec.port,
        caCerts: [...options.caCerts],
        alpnProtocols: ["dot"],
        cert: clientCert.cert,
        key: clientCert.key,
        [SERVER_NAME]: spec.authName,
      } as Deno.ConnectTlsOptions & Deno.TlsCertifiedKeyPem,
    );
    try {
      await conn.handshake();
    } catch (error) {
      conn.close();
      throw error;
    }
    return conn;
  })();
  try {
    return await Promise.race([connecting, deadline]);
  } catch (error) {
    // A connection that completes after the deadline is closed unused.
    connecting.then((conn) => conn.close(), () => {});
    const timedOut = error instanceof DOMException && error.name === "TimeoutError";
    const detail = timedOut
      ? "TLS handshake timed out"
      : describeConnectError(error, spec.authName);
    const reason = CONNECT_ERRORS.some((kind) => error instanceof kind) ? "connect" : "tls";
    const prefix = reason === "connect" ? "Cannot connect" : "TLS handshake failed";
    throw new UpstreamError(reason, spec.label, `${prefix}: ${detail}`, { cause: error });
  } finally {
    clearTimeout(timer);
  }
}
