import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
// deno-lint-ignore no-import-prefix -- pinned here, not in deno.json: docs/development.md
import dnsPacket from "npm:dns-packet@5.6.1";
import { DnsFormatError } from "./dns_format_error.ts";
import { namesEqual, nameToString, skipName, writeCanonicalName } from "./name.ts";
import { ascii, header, Prng, wireName } from "./test_packets_test.ts";

/** A message: a 12-octet header (all counts 0) followed by `body`. */
function msg(...body: (number | number[])[]): Uint8Array {
  return new Uint8Array([...header(0, 0, 0, 0, 0, 0), ...body.flat()]);
}

/** A pointer to `offset`. */
function ptr(offset: number): number[] {
  return [0xc0 | (offset >> 8), offset & 0xff];
}

function assertRejects(message: Uint8Array, offset: number, pattern: RegExp): void {
  assert.throws(() => skipName(message, offset), (error: unknown) => {
    assert.ok(error instanceof DnsFormatError, `not a DnsFormatError: ${error}`);
    assert.match(error.message, pattern);
    return true;
  });
}

/** A name of exactly `octets` octets in wire form (2..255 or more), made of labels of up to 63. */
function nameOfLength(octets: number): number[] {
  const labels: number[] = [];
  let left = octets - 1;
  while (left > 0) {
    const length = Math.min(63, left - 1) || 1;
    labels.push(length, ...new Array(length).fill(0x61));
    left -= length + 1;
  }
  return [...labels, 0];
}

// "example.com" at 12, then "www" + pointer to 12 at 25, then a lone pointer to 20 ("com").
const COMPRESSED = msg(wireName("example.com"), [3, ...ascii("www")], ptr(12), ptr(20));

Deno.test("skipName() returns the end of plain names", () => {
  const message = msg(wireName("www.example.com"));
  assert.equal(skipName(message, 12), message.length);
  assert.equal(skipName(message, 16), message.length, "a suffix is a name too");
});

Deno.test("skipName() accepts the root name", () => {
  assert.equal(skipName(msg(0), 12), 13);
  assert.equal(skipName(msg(0, 0, 0), 13), 14);
});

Deno.test("skipName() follows compression pointers to earlier names", () => {
  assert.equal(skipName(COMPRESSED, 12), 25);
  assert.equal(skipName(COMPRESSED, 25), 31, "ends after the pointer");
  assert.equal(skipName(COMPRESSED, 31), 33, "a name that is only a pointer");
  assert.equal(nameToString(COMPRESSED, 25), "www.example.com.");
  assert.equal(nameToString(COMPRESSED, 31), "com.");
});

Deno.test("skipName() follows pointers with 14-bit offsets", () => {
  const message = msg(new Array(400 - 12).fill(0), wireName("far.away"), ptr(400));
  assert.equal(skipName(message, 410), 412);
  assert.equal(nameToString(message, 410), "far.away.");
});

Deno.test("skipName() follows a pointer to a name that ends in a pointer", () => {
  // 12: "example.com"; 25: "www" -> 12; 31: "a" -> 25
  const message = msg(wireName("example.com"), [3, ...ascii("www")], ptr(12), [1, 97], ptr(25));
  assert.equal(skipName(message, 31), 35);
  assert.equal(nameToString(message, 31), "a.www.example.com.");
});

Deno.test("skipName() rejects a pointer to itself", () => {
  assertRejects(msg(wireName("a"), ptr(15)), 15, /does not point backwards/);
  assertRejects(msg(wireName("a"), [1, 98], ptr(15)), 15, /does not point backwards/);
});

Deno.test("skipName() rejects two pointers pointing at each other", () => {
  const message = msg(wireName("a"), ptr(17), ptr(15)); // 15 -> 17, 17 -> 15
  assertRejects(message, 15, /does not point backwards/);
  assertRejects(message, 17, /does not point backwards/);
});

Deno.test("skipName() rejects a chain that jumps back into itself", () => {
  // 15: "b" -> 20; 20: "a" -> 15. Starting at 20 goes back to 15, then forward again.
  const message = msg(wireName("z"), [1, 98], ptr(20), 0, [1, 97], ptr(15));
  assertRejects(message, 20, /does not point backwards/);
  // A pointer into the middle of its own label sequence.
  assertRejects(msg([1, 97, 1, 98], ptr(14)), 12, /does not point backwards/);
  assertRejects(msg(wireName("x"), [1, 97, 1, 98], ptr(17)), 15, /does not point backwards/);
});

Deno.test("skipName() rejects forward compression pointers", () => {
  const message = msg(ptr(14), wireName("example.com"));
  assertRejects(message, 12, /does not point backwards/);
  // Also when the forward pointer is reached through a backward one: 12: "a" -> 16;
  // 16: "b"; 19: -> 12. The pointer at 14 points forward, though not past 19.
  const chained = msg([1, 97], ptr(16), wireName("b"), ptr(12));
  assertRejects(chained, 19, /does not point backwards/);
  assertRejects(chained, 12, /does not point backwards/);
});

Deno.test("skipName() rejects pointers into the header", () => {
  for (let target = 0; target < 12; target++) {
    assertRejects(msg(wireName("a"), ptr(target)), 15, /does not point backwards/);
  }
  assertRejects(msg(ptr(0)), 12, /does not point backwards/);
});

Deno.test("skipName() rejects truncated names and pointers", () => {
  assertRejects(msg(), 12, /truncated/);
  assertRejects(msg([3, 97, 98]), 12, /truncated/);
  assertRejects(msg([3, 97, 98, 99]), 12, /truncated/); // root octet missing
  assertRejects(msg(wireName("a"), [1, 98, 0xc0]), 15, /truncated pointer/);
  assertRejects(msg(wireName("a"), [0xc0]), 15, /truncated pointer/);
});

Deno.test("skipName() rejects the 0x40 and 0x80 label types", () => {
  for (const type of [0x40, 0x41, 0x7f, 0x80, 0x81, 0xbf]) {
    assertRejects(msg([type, 97, 0]), 12, /unknown label type/);
    assertRejects(msg([1, 97, type, 0, 0]), 12, /unknown label type/);
  }
});

Deno.test("skipName() accepts a label of 63 octets", () => {
  const message = msg([63, ...new Array(63).fill(0x62), 0]);
  assert.equal(skipName(message, 12), message.length);
  assert.equal(nameToString(message, 12), "b".repeat(63) + ".");
});

Deno.test("skipName() accepts 255 octets and rejects 256", () => {
  assert.equal(nameOfLength(255).length, 255);
  const ok = msg(nameOfLength(255));
  assert.equal(skipName(ok, 12), ok.length);
  assertRejects(msg(nameOfLength(256)), 12, /longer than 255 octets/);
  assertRejects(msg(nameOfLength(300)), 12, /longer than 255 octets/);
});

Deno.test("skipName() counts the 255-octet limit through pointers", () => {
  // 12: a name of 200 octets; then a prefix of `extra` octets and a pointer to it.
  const base = nameOfLength(200);
  for (const [extra, valid] of [[55, true], [56, false]] as const) {
    const prefix = nameOfLength(extra + 1).slice(0, -1); // labels only, no root
    const message = msg(base, prefix, ptr(12));
    const offset = 12 + base.length;
    if (valid) assert.equal(skipName(message, offset), message.length);
    else assertRejects(message, offset, /longer than 255 octets/);
  }
  // Through two pointers: 12: 100 octets; A: 100 more -> 12; B: 56 more -> A (256).
  const first = nameOfLength(100);
  const middle = nameOfLength(101).slice(0, -1);
  const a = 12 + first.length;
  const last = nameOfLength(57).slice(0, -1);
  const message = msg(first, middle, ptr(12), last, ptr(a));
  assert.equal(skipName(message, a), a + middle.length + 2);
  assertRejects(message, a + middle.length + 2, /longer than 255 octets/);
});

Deno.test("skipName() accepts 128 chained pointers and rejects 129", () => {
  for (const [pointers, valid] of [[1, true], [128, true], [129, false], [200, false]] as const) {
    // 12: "a"; then pointers - 1 lone pointers, each to the previous one; then the name read.
    const body: number[] = [...wireName("a")];
    let previous = 12;
    for (let i = 0; i < pointers; i++) {
      const here = 12 + body.length;
      body.push(...ptr(previous));
      previous = here;
    }
    const message = msg(body);
    if (valid) {
      assert.equal(skipName(message, previous), message.length);
      assert.equal(nameToString(message, previous), "a.");
    } else {
      assertRejects(message, previous, /too many compression pointers/);
    }
  }
});

Deno.test("skipName() agrees with dns-packet on random label soup", () => {
  // Bytes drawn from lengths, letters, roots, bad label types and pointers to
  // offsets >= 12 (dns-packet, unlike skipName, follows pointers into the header).
  const prng = new Prng(42);
  let accepted = 0;
  let compared = 0;
  for (let round = 0; round < 20000; round++) {
    const body: number[] = [];
    const length = prng.int(1, 40);
    while (body.length < length) {
      const choice = prng.int(0, 9);
      if (choice < 3) body.push(prng.int(0, 4));
      else if (choice < 7) body.push(0x61 + prng.int(0, 25));
      else if (choice < 9) body.push(...ptr(prng.int(12, 12 + length)));
      else body.push(prng.pick([0x40, 0x80, 0]));
    }
    const message = msg(body);
    const offset = prng.int(12, message.length - 1);
    let theirs: string | null = null;
    let theirEnd = -1;
    try {
      theirs = dnsPacket.name.decode(Buffer.from(message), offset);
      theirEnd = offset + dnsPacket.name.decode.bytes;
    } catch {
      theirs = null;
    }
    let ours: number | null = null;
    try {
      ours = skipName(message, offset);
    } catch (error) {
      assert.ok(error instanceof DnsFormatError);
    }
    assert.equal(ours !== null, theirs !== null, `verdicts differ on ${body} at ${offset}`);
    if (ours !== null) {
      accepted++;
      assert.equal(ours, theirEnd);
      if (/^[a-z.]*$/.test(theirs!)) {
        compared++;
        assert.equal(nameToString(message, offset), theirs === "." ? "." : theirs + ".");
      }
    }
  }
  assert.ok(accepted > 1500, `only ${accepted} names accepted`);
  assert.ok(compared > 500, `only ${compared} names compared`);
});

Deno.test("namesEqual() ignores ASCII letter case", () => {
  const a = msg(wireName("WwW.Example.COM"));
  const b = msg(wireName("www.example.com"));
  assert.equal(namesEqual(a, 12, b, 12), true);
  assert.equal(namesEqual(b, 12, a, 12), true);
  assert.equal(namesEqual(msg(0), 12, msg(0), 12), true, "root");
});

Deno.test("namesEqual() compares through pointers on either side", () => {
  const plain = msg(wireName("WWW.EXAMPLE.com"));
  assert.equal(namesEqual(COMPRESSED, 25, plain, 12), true);
  assert.equal(namesEqual(plain, 12, COMPRESSED, 25), true);
  assert.equal(namesEqual(COMPRESSED, 31, msg(wireName("CoM")), 12), true);
  assert.equal(namesEqual(COMPRESSED, 31, COMPRESSED, 20), true, "pointer vs. what it points to");
  assert.equal(namesEqual(COMPRESSED, 25, COMPRESSED, 12), false);
});

Deno.test("namesEqual() tells different names apart", () => {
  const cases: [string, string][] = [
    ["ab.c", "a.bc"],
    ["example.com", "example.org"],
    ["example.com", "example.com.x"],
    ["x.example.com", "example.com"],
    ["a", "."],
  ];
  for (const [x, y] of cases) {
    assert.equal(namesEqual(msg(wireName(x)), 12, msg(wireName(y)), 12), false, `${x} vs ${y}`);
    assert.equal(namesEqual(msg(wireName(y)), 12, msg(wireName(x)), 12), false, `${y} vs ${x}`);
  }
  // Only A-Z/a-z fold: '[' (0x5b) and '{' (0x7b) differ by 0x20 but are not letters.
  assert.equal(namesEqual(msg([1, 0x5b, 0]), 12, msg([1, 0x7b, 0]), 12), false);
  assert.equal(namesEqual(msg([1, 0xc4, 0]), 12, msg([1, 0xe4, 0]), 12), false);
  assert.equal(namesEqual(msg([1, 0x40, 0]), 12, msg([1, 0x60, 0]), 12), false);
});

Deno.test("writeCanonicalName() writes lower case without compression", () => {
  const target = new Uint8Array(300).fill(0xee);
  const end = writeCanonicalName(COMPRESSED, 25, target, 3);
  const expected = wireName("www.example.com");
  assert.equal(end, 3 + expected.length);
  assert.deepEqual([...target.subarray(3, end)], expected);
  assert.equal(target[2], 0xee, "nothing written before the offset");
  assert.equal(target[end], 0xee, "nothing written after the name");
  const mixed = msg(wireName("MiXeD.CaSe-9.Z"));
  assert.equal(writeCanonicalName(mixed, 12, target, 0), mixed.length - 12);
  assert.deepEqual([...target.subarray(0, mixed.length - 12)], wireName("mixed.case-9.z"));
  assert.equal(writeCanonicalName(msg(0), 12, target, 7), 8);
  assert.equal(target[7], 0);
  const longest = msg(nameOfLength(255).map((b) => (b === 0x61 ? 0x41 : b)));
  assert.equal(writeCanonicalName(longest, 12, target, 0), 255);
  assert.deepEqual([...target.subarray(0, 255)], nameOfLength(255));
});

Deno.test("nameToString() escapes special and non-printable octets", () => {
  assert.equal(nameToString(msg(0), 12), ".");
  assert.equal(nameToString(msg(wireName("Example.COM")), 12), "Example.COM.");
  assert.equal(nameToString(msg([3, 0x61, 0x2e, 0x62, 0]), 12), "a\\.b.");
  assert.equal(nameToString(msg([1, 0x5c, 0]), 12), "\\\\.");
  assert.equal(nameToString(msg([4, 0x20, 0x00, 0x7f, 0xff, 0]), 12), "\\032\\000\\127\\255.");
  assert.equal(nameToString(msg([2, 0x21, 0x7e, 0]), 12), "!~.", "printable edges as is");
  assert.equal(nameToString(msg([1, 0x09, 1, 0x2d, 0]), 12), "\\009.-.");
});
