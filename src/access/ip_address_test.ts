import assert from "node:assert/strict";
import { isIP } from "node:net";
import { clientKey, type IpAddress, parseIp, wordMask } from "./ip_address.ts";
import { formatAddress } from "./cidr.ts";

function words(address: IpAddress | null): number[] | null {
  return address === null ? null : [address.w0, address.w1, address.w2, address.w3];
}

Deno.test("parseIp() reads dotted quads", () => {
  assert.deepEqual(words(parseIp("0.0.0.0")), [0, 0, 0xffff, 0]);
  assert.deepEqual(words(parseIp("255.255.255.255")), [0, 0, 0xffff, 0xffffffff]);
  assert.equal(parseIp("127.0.0.1")?.family, 4);
  assert.equal(parseIp("10.20.30.40")?.w3, 0x0a141e28);
});

Deno.test("parseIp() reads every IPv6 shape", () => {
  const cases: [string, number[]][] = [
    ["::", [0, 0, 0, 0]],
    ["::1", [0, 0, 0, 1]],
    ["1::", [0x00010000, 0, 0, 0]],
    ["2001:db8::8:800:200c:417a", [0x20010db8, 0, 0x00080800, 0x200c417a]],
    ["2001:DB8:0:0:8:800:200C:417A", [0x20010db8, 0, 0x00080800, 0x200c417a]],
    ["fe80::1%eth0", [0xfe800000, 0, 0, 1]],
    ["1:2:3:4:5:6:7:8", [0x00010002, 0x00030004, 0x00050006, 0x00070008]],
    ["1:2:3:4:5:6:7::", [0x00010002, 0x00030004, 0x00050006, 0x00070000]],
    ["::2:3:4:5:6:7:8", [0x00000002, 0x00030004, 0x00050006, 0x00070008]],
    ["64:ff9b::192.0.2.33", [0x0064ff9b, 0, 0, 0xc0000221]],
    ["::ffff:10.0.0.1", [0, 0, 0xffff, 0x0a000001]],
  ];
  for (const [text, expected] of cases) assert.deepEqual(words(parseIp(text)), expected, text);
});

Deno.test("parseIp() treats IPv4-mapped IPv6 as IPv4, and nothing else", () => {
  assert.equal(parseIp("::ffff:127.0.0.2")?.family, 4);
  assert.equal(parseIp("::ffff:7f00:2")?.family, 4);
  assert.equal(parseIp("::ffff:7f00:2")?.w3, 0x7f000002);
  assert.equal(parseIp("::127.0.0.2")?.family, 6); // IPv4-compatible (deprecated), not mapped
  assert.equal(parseIp("::fffe:127.0.0.2")?.family, 6);
  assert.equal(parseIp("64:ff9b::127.0.0.2")?.family, 6);
});

Deno.test("parseIp() rejects what isIP() rejects", () => {
  const bad = [
    "",
    "1",
    "1.2.3",
    "1.2.3.4.5",
    "256.0.0.1",
    "01.2.3.4",
    "1.2.3.04",
    "1..2.3",
    "1.2.3.4.",
    " 1.2.3.4",
    "1.2.3.-4",
    ":",
    ":::",
    "1:2",
    ":1",
    "1:",
    "1::2::3",
    "12345::",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7:8::",
    "::1:2:3:4:5:6:7:8",
    "g::1",
    "1:2:3:4:5:6:7:1.2.3.4",
    "::1.2.3",
    "::1.2.3.4:1",
    "example.com",
  ];
  for (const text of bad) {
    assert.equal(parseIp(text), null, text);
    assert.equal(isIP(text), 0, `isIP agrees on ${text}`);
  }
});

Deno.test("parseIp() agrees with isIP() and URL on random addresses", () => {
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  for (let i = 0; i < 2000; i++) {
    const groups = Array.from(
      { length: 8 },
      () => random() < 0.4 ? 0 : Math.floor(random() * 0x10000),
    );
    const full = groups.map((group) => group.toString(16)).join(":");
    const canonical = new URL(`http://[${full}]/`).hostname.slice(1, -1);
    const parsed = parseIp(canonical);
    assert(parsed !== null, canonical);
    assert.equal(isIP(canonical), 6);
    const back = formatAddress(parsed, 6);
    if (parsed.family === 6) assert.equal(back, canonical, full);
    assert.deepEqual(words(parseIp(full)), words(parsed));
  }
});

Deno.test("wordMask() covers the right bits of each word", () => {
  assert.equal(wordMask(0, 0), 0);
  assert.equal(wordMask(8, 0), 0xff000000);
  assert.equal(wordMask(32, 0), 0xffffffff);
  assert.equal(wordMask(32, 1), 0);
  assert.equal(wordMask(64, 1), 0xffffffff);
  assert.equal(wordMask(65, 2), 0x80000000);
  assert.equal(wordMask(128, 3), 0xffffffff);
  assert.equal(wordMask(120, 3), 0xffffff00);
});

Deno.test("clientKey() groups IPv4 by prefix and IPv6 by /64 by default", () => {
  const key = (text: string, v4 = 32, v6 = 64) => clientKey(parseIp(text)!, v4, v6);
  assert.equal(key("192.0.2.1"), 0xc0000201);
  assert.notEqual(key("192.0.2.1"), key("192.0.2.2"));
  assert.equal(key("192.0.2.1", 24), key("192.0.2.200", 24));
  assert.equal(key("::ffff:192.0.2.1"), key("192.0.2.1"));
  assert.equal(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"));
  assert.notEqual(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
  assert.notEqual(key("2001:db8::1", 32, 128), key("2001:db8::2", 32, 128));
  assert.equal(key("2001:db8::1", 32, 120), key("2001:db8::2", 32, 120));
  assert.equal(typeof key("::1"), "string"); // never equal to an IPv4 key
});
