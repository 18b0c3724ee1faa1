import assert from "node:assert/strict";
import { AccessList, DEFAULT_ALLOW } from "./access_list.ts";
import { parseCidr } from "./cidr.ts";
import { parseIp } from "./ip_address.ts";

function allows(list: AccessList, text: string): boolean {
  return list.allows(parseIp(text)!);
}

Deno.test("parseCidr() writes ranges back in canonical form", () => {
  const cases: [string, string][] = [
    ["10.0.0.0/8", "10.0.0.0/8"],
    ["192.0.2.7", "192.0.2.7/32"],
    ["0.0.0.0/0", "0.0.0.0/0"],
    ["FE80::/10", "fe80::/10"],
    ["2001:db8:0:0:0:0:0:0/32", "2001:db8::/32"],
    ["::/0", "::/0"],
    ["::1", "::1/128"],
    ["::ffff:10.0.0.0/104", "10.0.0.0/8"],
    ["::ffff:0:0/96", "0.0.0.0/0"],
    ["2001:0:0:1::/64", "2001:0:0:1::/64"],
  ];
  for (const [text, canonical] of cases) assert.equal(parseCidr(text).text, canonical, text);
});

Deno.test("parseCidr() rejects bad ranges with a reason", () => {
  const cases: [string, RegExp][] = [
    ["10.0.0.0/33", /from 0 to 32/],
    ["::/129", /from 0 to 128/],
    ["10.0.0.0/", /prefix length/],
    ["10.0.0.0/08", /prefix length/],
    ["10.0.0.0/-1", /prefix length/],
    ["10.0.0.0/8/8", /prefix length/],
    ["10.1.0.0/8", /beyond the \/8 prefix/],
    ["fe80::1/10", /beyond the \/10 prefix/],
    ["fe80::%eth0/10", /IPv4 or IPv6 address/],
    ["localhost", /IPv4 or IPv6 address/],
    ["", /IPv4 or IPv6 address/],
  ];
  for (const [text, reason] of cases) assert.throws(() => parseCidr(text), reason, text);
});

Deno.test("AccessList admits exactly the default private ranges", () => {
  const list = AccessList.fromText(DEFAULT_ALLOW);
  for (
    const text of [
      "127.0.0.1",
      "127.255.255.254",
      "::1",
      "10.0.0.1",
      "172.16.0.1",
      "172.31.255.255",
      "192.168.1.1",
      "169.254.0.9",
      "fe80::1",
      "febf::1",
      "fc00::1",
      "fd12:3456::1",
      "::ffff:192.168.0.1",
      "::ffff:127.0.0.1",
    ]
  ) assert(allows(list, text), text);
  for (
    const text of [
      "8.8.8.8",
      "172.15.255.255",
      "172.32.0.0",
      "192.169.0.1",
      "11.0.0.1",
      "::2",
      "::",
      "fec0::1",
      "fe00::1",
      "2001:db8::1",
      "::ffff:8.8.8.8",
      "::127.0.0.1",
    ]
  ) assert(!allows(list, text), text);
});

Deno.test("AccessList matches IPv4 clients against IPv4 ranges only", () => {
  const v6All = AccessList.fromText(["::/0"]);
  assert(allows(v6All, "2001:db8::1"));
  assert(!allows(v6All, "192.0.2.1"));
  assert(!allows(v6All, "::ffff:192.0.2.1"));
  const v4All = AccessList.fromText(["0.0.0.0/0"]);
  assert(allows(v4All, "::ffff:192.0.2.1"));
  assert(!allows(v4All, "2001:db8::1"));
  const one = AccessList.fromText(["127.0.0.1/32"]);
  assert(allows(one, "127.0.0.1") && allows(one, "::ffff:127.0.0.1"));
  assert(!allows(one, "127.0.0.2") && !allows(one, "::ffff:127.0.0.2"));
});

Deno.test("AccessList with no ranges admits nobody", () => {
  const none = new AccessList([]);
  assert(!allows(none, "127.0.0.1"));
  assert(!allows(none, "::1"));
});

Deno.test("AccessList agrees with a bit-by-bit reference on random ranges", () => {
  let seed = 99;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  const bit = (words: number[], i: number) => (words[i >>> 5]! >>> (31 - (i & 31))) & 1;
  for (let round = 0; round < 300; round++) {
    const prefix = random(129);
    const base = [
      random(2) ? 0x20010db8 : random(2 ** 31),
      random(2 ** 31),
      random(3),
      random(2 ** 31),
    ];
    const client = base.map((word) => random(4) === 0 ? (word ^ (1 << random(32))) >>> 0 : word);
    const masked = base.map((word, i) => {
      const bits = Math.max(0, Math.min(32, prefix - 32 * i));
      return bits === 0 ? 0 : (word & ((0xffffffff << (32 - bits)) >>> 0)) >>> 0;
    });
    const hex = (words: number[]) =>
      words.flatMap((w) => [(w >>> 16).toString(16), (w & 0xffff).toString(16)]).join(":");
    if (masked[0] === 0 && masked[1] === 0 && masked[2] === 0xffff) continue; // mapped: other rules
    const list = AccessList.fromText([`${hex(masked)}/${prefix}`]);
    const clientText = hex(client);
    if (parseIp(clientText)!.family === 4) continue;
    let expected = true;
    for (let i = 0; i < prefix; i++) if (bit(client, i) !== bit(masked, i)) expected = false;
    assert.equal(allows(list, clientText), expected, `${hex(masked)}/${prefix} vs ${clientText}`);
  }
});
