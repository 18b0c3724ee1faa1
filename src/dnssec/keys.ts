/**
 * DNSKEY records, their key tags (RFC 4034 Appendix B), DS digests
 * (RFC 4509, RFC 6605) and their import as WebCrypto keys for the
 * algorithms the validator supports: 8 and 10 (RSA, RFC 5702), 13 and 14
 * (ECDSA, RFC 6605) and 15 (Ed25519, RFC 8080).
 *
 * @module
 */

import { readU16 } from "../wire/header.ts";
import type { Name } from "./names.ts";

/** DNSSEC algorithm numbers the validator verifies. */
export const SUPPORTED_ALGORITHMS: ReadonlySet<number> = new Set([8, 10, 13, 14, 15]);
/** DS digest types the validator checks: SHA-256 (2) and SHA-384 (4). */
export const SUPPORTED_DIGESTS: ReadonlySet<number> = new Set([2, 4]);

/** A DNSKEY record's fields. */
export interface DnsKey {
  readonly flags: number;
  readonly protocol: number;
  readonly algorithm: number;
  readonly publicKey: Uint8Array;
  readonly keyTag: number;
  /** The whole RDATA (for DS digests). */
  readonly rdata: Uint8Array;
}

/** The Zone Key flag (RFC 4034 §2.1.1). */
const ZONE_KEY = 0x0100;
/** The Revoke flag (RFC 5011 §3). */
const REVOKE = 0x0080;

/**
 * Reads a DNSKEY's RDATA.
 *
 * @returns The key, or null when the RDATA is shorter than its fixed fields.
 */
export function parseDnsKey(rdata: Uint8Array): DnsKey | null {
  if (rdata.length < 5) return null;
  return {
    flags: readU16(rdata, 0),
    protocol: rdata[2]!,
    algorithm: rdata[3]!,
    publicKey: rdata.subarray(4),
    keyTag: keyTag(rdata),
    rdata,
  };
}

/** Whether a key may sign zone data: Zone Key flag set, not revoked, protocol 3. */
export function isZoneKey(key: DnsKey): boolean {
  return (key.flags & ZONE_KEY) !== 0 && (key.flags & REVOKE) === 0 && key.protocol === 3;
}

/**
 * The key tag of a DNSKEY RDATA (RFC 4034 Appendix B).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { keyTag } from "./keys.ts";
 *
 * assert.equal(keyTag(new Uint8Array([1, 1, 3, 8, 3, 1, 0, 1])), 1803);
 * ```
 */
export function keyTag(rdata: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < rdata.length; i++) sum += i & 1 ? rdata[i]! : rdata[i]! << 8;
  sum += (sum >>> 16) & 0xffff;
  return sum & 0xffff;
}

/** A DS record's fields. */
export interface Ds {
  readonly keyTag: number;
  readonly algorithm: number;
  readonly digestType: number;
  readonly digest: Uint8Array;
}

/** Reads a DS RDATA; null when too short. */
export function parseDs(rdata: Uint8Array): Ds | null {
  if (rdata.length < 5) return null;
  return {
    keyTag: readU16(rdata, 0),
    algorithm: rdata[2]!,
    digestType: rdata[3]!,
    digest: rdata.subarray(4),
  };
}

/**
 * The DS digest of a key: SHA-256 or SHA-384 over the owner name and the
 * DNSKEY RDATA (RFC 4034 §5.1.4).
 *
 * @param owner The key's owner, canonical.
 * @param key The key.
 * @param digestType 2 or 4.
 * @returns The digest, or null for another digest type.
 */
export async function dsDigest(
  owner: Name,
  key: DnsKey,
  digestType: number,
): Promise<Uint8Array | null> {
  const hash = digestType === 2 ? "SHA-256" : digestType === 4 ? "SHA-384" : null;
  if (hash === null) return null;
  const data = new Uint8Array(owner.length + key.rdata.length);
  data.set(owner);
  data.set(key.rdata, owner.length);
  return new Uint8Array(await crypto.subtle.digest(hash, data));
}

/** How WebCrypto verifies one algorithm. */
interface AlgorithmProfile {
  readonly verify: AlgorithmIdentifier | EcdsaParams;
  importKey(publicKey: Uint8Array): Promise<CryptoKey>;
}

function rsa(hash: string): AlgorithmProfile {
  const params = { name: "RSASSA-PKCS1-v1_5", hash };
  return {
    verify: params,
    importKey: (publicKey) => {
      const { exponent, modulus } = splitRsaKey(publicKey);
      const jwk = { kty: "RSA", e: base64Url(exponent), n: base64Url(modulus), ext: true };
      return crypto.subtle.importKey("jwk", jwk, params, false, ["verify"]);
    },
  };
}

function ecdsa(namedCurve: string, hash: string, size: number): AlgorithmProfile {
  return {
    verify: { name: "ECDSA", hash },
    importKey: (publicKey) => {
      if (publicKey.length !== size) throw new RangeError(`ECDSA key is not ${size} octets`);
      const point = new Uint8Array(size + 1);
      point[0] = 4; // uncompressed point (SEC 1 §2.3.3): the DNSKEY holds x || y
      point.set(publicKey, 1);
      return crypto.subtle.importKey("raw", point, { name: "ECDSA", namedCurve }, false, [
        "verify",
      ]);
    },
  };
}

const PROFILES: ReadonlyMap<number, AlgorithmProfile> = new Map([
  [8, rsa("SHA-256")],
  [10, rsa("SHA-512")],
  [13, ecdsa("P-256", "SHA-256", 64)],
  [14, ecdsa("P-384", "SHA-384", 96)],
  [15, {
    verify: { name: "Ed25519" },
    importKey: (publicKey: Uint8Array) =>
      crypto.subtle.importKey("raw", bytes(publicKey), { name: "Ed25519" }, false, ["verify"]),
  }],
]);

/** Splits an RSA DNSKEY public key (RFC 3110 §2). */
function splitRsaKey(key: Uint8Array): { exponent: Uint8Array; modulus: Uint8Array } {
  let at = 1;
  let length = key[0] ?? 0;
  if (length === 0) {
    length = (key[1]! << 8) | key[2]!;
    at = 3;
  }
  if (length === 0 || at + length >= key.length) throw new RangeError("RSA key is malformed");
  let modulus = key.subarray(at + length);
  while (modulus.length > 1 && modulus[0] === 0) modulus = modulus.subarray(1);
  return { exponent: key.subarray(at, at + length), modulus };
}

/** A view typed as WebCrypto takes it (our views are never of shared memory). */
function bytes(view: Uint8Array): BufferSource {
  return view as Uint8Array<ArrayBuffer>;
}

function base64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Imported keys by algorithm and public key, so that a zone's keys are imported once. */
const imported = new Map<string, Promise<CryptoKey | null>>();
const MAX_IMPORTED = 512;

/**
 * Verifies a signature with a DNSKEY. DNSSEC's ECDSA signatures are r || s
 * (RFC 6605 §4), the form WebCrypto takes.
 *
 * @param key The key (its algorithm must be supported).
 * @param signature The RRSIG's signature field.
 * @param data The signed data.
 * @returns Whether the signature is good; false for a key WebCrypto refuses.
 */
export async function verifySignature(
  key: DnsKey,
  signature: Uint8Array,
  data: Uint8Array,
): Promise<boolean> {
  const profile = PROFILES.get(key.algorithm);
  if (profile === undefined) return false;
  const id = `${key.algorithm}:${String.fromCharCode(...key.publicKey)}`;
  let cryptoKey = imported.get(id);
  if (cryptoKey === undefined) {
    if (imported.size >= MAX_IMPORTED) imported.delete(imported.keys().next().value!);
    cryptoKey = profile.importKey(key.publicKey).catch(() => null);
    imported.set(id, cryptoKey);
  }
  const ready = await cryptoKey;
  if (ready === null) return false;
  try {
    return await crypto.subtle.verify(profile.verify, ready, bytes(signature), bytes(data));
  } catch {
    // A signature of the wrong length for the key: bad, not an error.
    return false;
  }
}
