import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { spkiPin, subjectPublicKeyInfo } from "./spki_pin.ts";

const TLS = new URL("../../tests/testdata/tls/", import.meta.url);

function der(name: string): Uint8Array {
  return new Uint8Array(new X509Certificate(Deno.readTextFileSync(new URL(name, TLS))).raw);
}

Deno.test("subjectPublicKeyInfo() finds the key that node:crypto exports, for each test certificate", () => {
  for (const name of ["server.pem", "ca.pem", "client.pem", "other_server.pem"]) {
    const certificate = new X509Certificate(Deno.readTextFileSync(new URL(name, TLS)));
    const expected = certificate.publicKey.export({ type: "spki", format: "der" });
    assert.deepEqual(subjectPublicKeyInfo(der(name)), new Uint8Array(expected), name);
  }
});

Deno.test("spkiPin() gives the pin openssl gives (tests/testdata/tls/README.md)", () => {
  assert.equal(spkiPin(der("server.pem")), "jglkVUaEj5oUsufyPzJdKIxjSZ1aS3jfUVjyZ77QGUI=");
});

Deno.test("subjectPublicKeyInfo() rejects truncated and non-certificate input", () => {
  const whole = der("server.pem");
  for (const bytes of [whole.subarray(0, 100), new Uint8Array([0x30]), new Uint8Array(0)]) {
    assert.throws(() => subjectPublicKeyInfo(bytes), SyntaxError);
  }
  assert.throws(() => subjectPublicKeyInfo(new Uint8Array([0x30, 0x84, 0xff, 0xff, 0xff, 0xff])));
});
