/**
 * Turns the errors Deno raises while connecting into a reason and a short,
 * specific explanation for logs (e.g. "certificate is not valid for
 * cloudflare-dns.com"), so that an operator sees what went wrong.
 *
 * Deno reports every TLS verification failure as `InvalidData` with rustls'
 * wording in the message; this is the one place that reads that wording.
 *
 * @module
 */

/**
 * A short explanation of a connection or handshake failure.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeConnectError } from "./tls_error.ts";
 *
 * const error = new Error("invalid peer certificate: UnknownIssuer");
 * assert.equal(describeConnectError(error, "dot.test"), "certificate not trusted: unknown issuer");
 * ```
 *
 * @param error What Deno threw.
 * @param authName The name the certificate was checked against.
 * @returns One line for the log.
 */
export function describeConnectError(error: unknown, authName: string): string {
  const message = error instanceof Error ? error.message : String(error);
  // Alerts the server sends about our client certificate (RFC 8446 §6.2).
  if (/alert: CertificateRequired/i.test(message)) {
    return "the server requires a client certificate (none was presented)";
  }
  const refused = message.match(
    /alert: (BadCertificate|UnknownCA|CertificateUnknown|UnsupportedCertificate|CertificateRevoked|CertificateExpired|AccessDenied|DecryptError)/i,
  );
  if (refused) return `the server refused the client certificate (alert ${refused[1]})`;
  if (/NotValidForName|not valid for name|CertNotValidForName/i.test(message)) {
    return `certificate is not valid for ${authName}`;
  }
  if (/UnknownIssuer/i.test(message)) return "certificate not trusted: unknown issuer";
  if (/Expired/i.test(message)) return "certificate expired";
  if (/NotValidYet/i.test(message)) return "certificate not valid yet";
  if (/BadSignature|BadEncoding|invalid peer certificate/i.test(message)) {
    return `certificate rejected (${message})`;
  }
  if (error instanceof Deno.errors.ConnectionRefused) return "connection refused";
  if (error instanceof Deno.errors.TimedOut) return "connection timed out";
  if (error instanceof Deno.errors.ConnectionReset) return "connection reset by the server";
  if (error instanceof Deno.errors.UnexpectedEof) return "connection closed during the handshake";
  if (error instanceof DOMException && error.name === "TimeoutError") return "connection timed out";
  return message;
}
