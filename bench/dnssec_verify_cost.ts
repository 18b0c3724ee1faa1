/**
 * CPU cost of one DNSSEC signature check per algorithm, as the validator
 * makes it: `crypto.subtle.verify` with an imported key, 50 checks in
 * flight (WebCrypto runs them on a thread pool). An answer for a name that
 * exists costs one check once its zone's chain is warm; a wildcard answer
 * or a signed denial costs two (the data and the NSEC or NSEC3 proof).
 *
 * Usage: deno run -A bench/dnssec_verify_cost.ts [--rounds N]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { cpuUsage } from "node:process";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "20" } } });
const rounds = Number(values.rounds);
const IN_FLIGHT = 50;
const data = new Uint8Array(300).fill(7); // about an RRset's signed data

const RSA = (bits: number) => ({
  name: "RSASSA-PKCS1-v1_5",
  modulusLength: bits,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: "SHA-256",
});
const CASES = [
  { label: "8 RSA/SHA-256, 1024-bit key", key: RSA(1024), sign: { name: "RSASSA-PKCS1-v1_5" } },
  { label: "8 RSA/SHA-256, 2048-bit key", key: RSA(2048), sign: { name: "RSASSA-PKCS1-v1_5" } },
  {
    label: "13 ECDSA P-256/SHA-256",
    key: { name: "ECDSA", namedCurve: "P-256" },
    sign: { name: "ECDSA", hash: "SHA-256" },
  },
  {
    label: "14 ECDSA P-384/SHA-384",
    key: { name: "ECDSA", namedCurve: "P-384" },
    sign: { name: "ECDSA", hash: "SHA-384" },
  },
  { label: "15 Ed25519", key: { name: "Ed25519" }, sign: { name: "Ed25519" } },
];

function cpuMicros(): number {
  const usage = cpuUsage();
  return usage.user + usage.system;
}

function print(line: string): void {
  Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
}

print(`${rounds} rounds of ${IN_FLIGHT} checks in flight per algorithm`);
print("| algorithm | CPU µs per check | wall µs per check |");
print("|---|--:|--:|");
for (const { label, key, sign } of CASES) {
  const pair = await crypto.subtle.generateKey(key, false, ["sign", "verify"]) as CryptoKeyPair;
  const signature = await crypto.subtle.sign(sign, pair.privateKey, data);
  const check = () => crypto.subtle.verify(sign, pair.publicKey, signature, data);
  await Promise.all(Array.from({ length: IN_FLIGHT }, check)); // warm-up
  const cpuBefore = cpuMicros();
  const started = performance.now();
  for (let round = 0; round < rounds; round++) {
    const results = await Promise.all(Array.from({ length: IN_FLIGHT }, check));
    if (!results.every(Boolean)) throw new Error(`A ${label} signature did not verify`);
  }
  const checks = rounds * IN_FLIGHT;
  const cpu = (cpuMicros() - cpuBefore) / checks;
  const wall = (performance.now() - started) * 1000 / checks;
  print(`| ${label} | ${cpu.toFixed(0)} | ${wall.toFixed(0)} |`);
}
