import assert from "node:assert/strict";
import { nameFromText } from "./names.ts";
import { base32HexDecode, MAX_NSEC3_ITERATIONS, type Nsec3, Nsec3Set } from "./nsec3.ts";
import { InsecureError } from "./verdict.ts";
import { WorkBudget, WorkLimitError } from "./work_budget.ts";

const encoder = new TextEncoder();

function record(hash: string, zone: string, iterations: number): Nsec3 {
  return {
    owner: nameFromText(`${hash}.${zone}`),
    ownerHash: base32HexDecode(encoder.encode(hash))!,
    hashAlgorithm: 1,
    optOut: false,
    iterations,
    salt: new Uint8Array([0xaa, 0xbb, 0xcc, 0xdd]),
    nextHash: base32HexDecode(encoder.encode("2t7b4g4vsa5smi47k61mv5bv1a22bojr"))!,
    bitmap: new Uint8Array(0),
  };
}

Deno.test("Nsec3Set hashes names as RFC 5155 Appendix A does", () => {
  const zone = nameFromText("example");
  const set = new Nsec3Set(
    [
      record("0p9mhaveqvm6t7vbl5lop2u3t2rp3tom", "example", 12),
      record("35mthgpgcu1qg68fab165klnsnk3dpvl", "example", 12),
    ],
    zone,
    new WorkBudget(),
  );
  assert.equal(set.match(nameFromText("example"))?.owner[1], "0".charCodeAt(0));
  assert.equal(set.match(nameFromText("a.example"))?.owner[1], "3".charCodeAt(0));
  assert.equal(set.match(nameFromText("b.example")), undefined);
});

Deno.test("Nsec3Set makes zones above the iteration limit insecure", () => {
  const heavy = record("0p9mhaveqvm6t7vbl5lop2u3t2rp3tom", "example", MAX_NSEC3_ITERATIONS + 1);
  assert.throws(
    () => new Nsec3Set([heavy], nameFromText("example"), new WorkBudget()),
    InsecureError,
  );
});

Deno.test("Nsec3Set stops hashing at the work limit", () => {
  const limits = {
    maxKeysPerSignature: 4,
    maxSignaturesPerRrset: 8,
    maxValidations: 8,
    maxNsec3Hashes: 3,
  };
  const set = new Nsec3Set(
    [record("0p9mhaveqvm6t7vbl5lop2u3t2rp3tom", "example", 12)],
    nameFromText("example"),
    new WorkBudget(limits),
  );
  assert.throws(() => set.closestEncloser(nameFromText("a.b.c.d.e.example")), WorkLimitError);
});
