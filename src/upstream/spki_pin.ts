/**
 * SPKI pinning of DNS-over-TLS upstreams (RFC 7858 §4.2, pins as in RFC 7469 §2.4): the base64
 * SHA-256 digest of the DER SubjectPublicKeyInfo of the server's certificate must be one of the
 * configured pins, checked after the handshake (which has verified the chain and the name, so
 * both hold: Stubby's strict profile) and before any query is written. The digest is
 * node:crypto's synchronous one: WebCrypto's asynchronous digest cost several times more per
 * check (bench/spki_pin_cost.ts).
 *
 * Deno's TLS API shows nothing of the peer's certificate (`handshake()` returns only the ALPN
 * protocol). `Deno.TlsConn` does carry the certificate behind an internal symbol, the one
 * Deno's own `node:tls` uses for `getPeerCertificate()`; {@linkcode peerCertificate} reads it
 * there, on the very connection the queries will use, so the check cannot be raced. Should a
 * Deno release drop it, the check fails closed: a pinned upstream then gets no query at all.
 *
 * @module
 */

import { createHash } from "node:crypto";

/** A server's key matched none of the pins; the connection was closed unused. */
export class PinMismatchError extends Error {
  /** The pin of the key the server presented. */
  readonly pin: string;

  /**
   * @param pin The pin of the key the server presented.
   * @param message What happened.
   */
  constructor(pin: string, message: string) {
    super(message);
    this.name = "PinMismatchError";
    this.pin = pin;
  }
}

/** One DER element: its tag and where its contents start and end. */
interface DerElement {
  readonly tag: number;
  readonly start: number;
  readonly contents: number;
  readonly end: number;
}

function readElement(der: Uint8Array, offset: number): DerElement {
  const tag = der[offset];
  let length = der[offset + 1];
  if (tag === undefined || length === undefined) {
    throw new SyntaxError(`Cannot parse certificate: element truncated at offset ${offset}`);
  }
  let contents = offset + 2;
  if (length >= 0x80) {
    const octets = length & 0x7f;
    if (octets === 0 || octets > 4) {
      throw new SyntaxError(`Cannot parse certificate: bad length at offset ${offset}`);
    }
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + (der[contents + i] ?? NaN);
    contents += octets;
  }
  const end = contents + length;
  if (!(end <= der.length)) {
    throw new SyntaxError(`Cannot parse certificate: element beyond the data at offset ${offset}`);
  }
  return { tag, start: offset, contents, end };
}

/**
 * The DER SubjectPublicKeyInfo of a DER certificate, exactly as it is in the certificate
 * (RFC 5280 §4.1: Certificate → tbsCertificate → [version], serialNumber, signature, issuer,
 * validity, subject, subjectPublicKeyInfo).
 *
 * @param der The certificate.
 * @returns A view of the SubjectPublicKeyInfo element in `der`.
 * @throws {SyntaxError} When `der` is not a certificate.
 */
export function subjectPublicKeyInfo(der: Uint8Array): Uint8Array {
  const certificate = readElement(der, 0);
  const tbs = readElement(der, certificate.contents);
  let element = readElement(der, tbs.contents);
  if (element.tag === 0xa0) element = readElement(der, element.end); // [0] version
  for (let skip = 0; skip < 5; skip++) element = readElement(der, element.end);
  if (element.tag !== 0x30 || element.end > tbs.end) {
    throw new SyntaxError("Cannot parse certificate: no SubjectPublicKeyInfo sequence");
  }
  return der.subarray(element.start, element.end);
}

/**
 * The pin of a certificate's key: base64 of the SHA-256 digest of its SubjectPublicKeyInfo,
 * as `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256
 * -binary | openssl enc -base64` prints it.
 *
 * @param der The certificate.
 * @returns The pin.
 * @throws {SyntaxError} When `der` is not a certificate.
 */
export function spkiPin(der: Uint8Array): string {
  return createHash("sha256").update(subjectPublicKeyInfo(der)).digest("base64");
}

/**
 * The server's certificate (DER) on an open connection, read through Deno's internal hook.
 *
 * @param conn A connection whose handshake is complete.
 * @returns The certificate, or undefined when this Deno does not offer it.
 */
export function peerCertificate(conn: Deno.TlsConn): Uint8Array | undefined {
  const hook = Object.getOwnPropertySymbols(Object.getPrototypeOf(conn))
    .find((symbol) => symbol.description === "getPeerCertificate");
  if (hook === undefined) return undefined;
  const method = (conn as unknown as Record<symbol, unknown>)[hook];
  if (typeof method !== "function") return undefined;
  const certificate: unknown = method.call(conn, false);
  const raw = (certificate as { raw?: unknown } | null)?.raw;
  return raw instanceof Uint8Array ? raw : undefined;
}

/**
 * Checks the server's key on an open connection against a set of pins.
 *
 * @param conn A connection whose handshake is complete and on which nothing was written.
 * @param pins The pins (base64 SHA-256 of SubjectPublicKeyInfo).
 * @throws {PinMismatchError} When the key matches no pin, or cannot be read.
 */
export function checkPins(conn: Deno.TlsConn, pins: readonly string[]): void {
  const der = peerCertificate(conn);
  if (der === undefined) {
    throw new PinMismatchError(
      "",
      "cannot check the key pins: this Deno does not show the server's certificate",
    );
  }
  const pin = spkiPin(der);
  if (!pins.includes(pin)) {
    throw new PinMismatchError(pin, `server key pin-sha256=${pin} matches none of the pins`);
  }
}
