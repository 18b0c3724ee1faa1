import assert from "node:assert/strict";
import {
  DEFAULT_DOT_PORT,
  DEFAULT_UPSTREAMS,
  parseUpstreamSpec,
  UpstreamSpecError,
} from "./upstream_spec.ts";
import type { UpstreamSpec } from "./upstream_spec.ts";

function spec(address: string, port: number, authName: string, label: string): UpstreamSpec {
  return { address, port, authName, label };
}

const VALID: readonly [string, UpstreamSpec][] = [
  ["1.1.1.1", spec("1.1.1.1", 853, "1.1.1.1", "1.1.1.1:853")],
  ["9.9.9.9:8853", spec("9.9.9.9", 8853, "9.9.9.9", "9.9.9.9:8853")],
  ["9.9.9.9:1", spec("9.9.9.9", 1, "9.9.9.9", "9.9.9.9:1")],
  ["9.9.9.9:65535", spec("9.9.9.9", 65535, "9.9.9.9", "9.9.9.9:65535")],
  [
    "1.1.1.1#cloudflare-dns.com",
    spec("1.1.1.1", 853, "cloudflare-dns.com", "1.1.1.1:853#cloudflare-dns.com"),
  ],
  [
    "1.1.1.1:853#cloudflare-dns.com",
    spec("1.1.1.1", 853, "cloudflare-dns.com", "1.1.1.1:853#cloudflare-dns.com"),
  ],
  [
    "[2606:4700::1111]:853#cloudflare-dns.com",
    spec("2606:4700::1111", 853, "cloudflare-dns.com", "[2606:4700::1111]:853#cloudflare-dns.com"),
  ],
  [
    "[2606:4700::1111]#cloudflare-dns.com",
    spec("2606:4700::1111", 853, "cloudflare-dns.com", "[2606:4700::1111]:853#cloudflare-dns.com"),
  ],
  ["[::1]", spec("::1", 853, "::1", "[::1]:853")],
  ["[::1]:5853", spec("::1", 5853, "::1", "[::1]:5853")],
  ["2606:4700::1111", spec("2606:4700::1111", 853, "2606:4700::1111", "[2606:4700::1111]:853")],
  [
    "2606:4700::1111#one.one.one.one",
    spec("2606:4700::1111", 853, "one.one.one.one", "[2606:4700::1111]:853#one.one.one.one"),
  ],
  [
    "1.1.1.1#Dns.Example.COM.",
    spec("1.1.1.1", 853, "dns.example.com", "1.1.1.1:853#dns.example.com"),
  ],
  [
    "10.0.0.1#_dns.resolver.arpa",
    spec("10.0.0.1", 853, "_dns.resolver.arpa", "10.0.0.1:853#_dns.resolver.arpa"),
  ],
  ["10.0.0.1#localhost", spec("10.0.0.1", 853, "localhost", "10.0.0.1:853#localhost")],
  ["10.0.0.1#10.0.0.2", spec("10.0.0.1", 853, "10.0.0.2", "10.0.0.1:853#10.0.0.2")],
  ["10.0.0.1#10.0.0.1", spec("10.0.0.1", 853, "10.0.0.1", "10.0.0.1:853")],
  ["[::1]#fe80::1", spec("::1", 853, "fe80::1", "[::1]:853#fe80::1")],
  ["10.0.0.1:0853", spec("10.0.0.1", 853, "10.0.0.1", "10.0.0.1:853")],
];

for (const [text, expected] of VALID) {
  Deno.test(`parseUpstreamSpec() parses ${JSON.stringify(text)}`, () => {
    assert.deepEqual(parseUpstreamSpec(text), expected);
  });
}

Deno.test("parseUpstreamSpec() accepts a name of 63-character labels and 253 characters", () => {
  const label = "a".repeat(63);
  assert.equal(parseUpstreamSpec(`1.1.1.1#${label}.example`).authName, `${label}.example`);
  const name = [label, label, label, "b".repeat(61)].join(".");
  assert.equal(name.length, 253);
  assert.equal(parseUpstreamSpec(`1.1.1.1#${name}.`).authName, name);
});

Deno.test("parseUpstreamSpec() returns frozen values", () => {
  assert(Object.isFrozen(parseUpstreamSpec("1.1.1.1")));
});

const MISSING = "the IP address is missing, expected IP[:PORT][#AUTH_NAME]";
const PORT = "port must be an integer from 1 to 65535";
const EMPTY_NAME = 'the authentication name after "#" is empty';

function notIp(address: string): string {
  return `address "${address}" is not an IP address ` +
    "(hostnames are not supported: no bootstrap DNS)";
}

function notIpv6(hostPort: string): string {
  return `"${hostPort}" is not an IPv6 address; write an IPv6 address with a port as [IP]:PORT`;
}

function badName(name: string): string {
  return `the authentication name "${name}" must be a hostname (letters, digits, "-", "_") ` +
    "or an IP address";
}

function emptyLabel(name: string): string {
  return `the authentication name "${name}" has an empty label`;
}

const LONG_LABEL = "a".repeat(64);

const INVALID: readonly [string, string][] = [
  ["", MISSING],
  [":853", MISSING],
  ["#dns.google", MISSING],
  ["dns.google", notIp("dns.google")],
  ["dns.google:853", notIp("dns.google")],
  ["1.1.1", notIp("1.1.1")],
  ["1.1.1.1,1.0.0.1", notIp("1.1.1.1,1.0.0.1")],
  ["1.1.1.1:0", PORT],
  ["1.1.1.1:65536", PORT],
  ["1.1.1.1:abc", PORT],
  ["1.1.1.1:", PORT],
  ["1.1.1.1:+853", PORT],
  ["1.1.1.1:8.5", PORT],
  ["1.1.1.1: 853", PORT],
  ["[::1]:0", PORT],
  ["[::1]:", PORT],
  ["1.1.1.1#", EMPTY_NAME],
  ["[::1]:853#", EMPTY_NAME],
  ["1.1.1.1#a..b", emptyLabel("a..b")],
  ["1.1.1.1#.", emptyLabel(".")],
  ["1.1.1.1#.example", emptyLabel(".example")],
  ["1.1.1.1#dns.example#x", badName("dns.example#x")],
  ["1.1.1.1#dns example", badName("dns example")],
  ["1.1.1.1#[::1]", badName("[::1]")],
  [
    `1.1.1.1#${LONG_LABEL}.example`,
    `the authentication name label "${LONG_LABEL}" is longer than 63 characters`,
  ],
  [
    `1.1.1.1#${Array(64).fill("abc").join(".")}`,
    "the authentication name is longer than 253 characters",
  ],
  ["[2606:4700::1111", 'missing "]" after the IPv6 address'],
  ["[1.1.1.1]:853", '"1.1.1.1" in brackets is not an IPv6 address'],
  ["[]", '"" in brackets is not an IPv6 address'],
  ["[::1]853", 'expected ":PORT" or "#AUTH_NAME" after "]", got "853"'],
  ["[::1]]", 'expected ":PORT" or "#AUTH_NAME" after "]", got "]"'],
  ["::1]:853", notIpv6("::1]:853")],
  ["2606:4700::zz", notIpv6("2606:4700::zz")],
  ["2606:4700::1111::853", notIpv6("2606:4700::1111::853")],
];

for (const [text, reason] of INVALID) {
  Deno.test(`parseUpstreamSpec() rejects ${JSON.stringify(text)}`, () => {
    assert.throws(() => parseUpstreamSpec(text), (error) => {
      assert(error instanceof SyntaxError);
      assert(error instanceof UpstreamSpecError);
      assert.equal(error.name, "UpstreamSpecError");
      assert.equal(error.text, text);
      assert.equal(error.reason, reason);
      assert.equal(error.message, `Invalid upstream "${text}": ${reason}`);
      return true;
    });
  });
}

Deno.test("DEFAULT_UPSTREAMS are Cloudflare's IPv4 resolvers", () => {
  assert.deepEqual(DEFAULT_UPSTREAMS.map((upstream) => upstream.label), [
    "1.1.1.1:853#cloudflare-dns.com",
    "1.0.0.1:853#cloudflare-dns.com",
  ]);
  assert(Object.isFrozen(DEFAULT_UPSTREAMS));
  assert.equal(DEFAULT_DOT_PORT, 853);
});

const PIN_A = "jglkVUaEj5oUsufyPzJdKIxjSZ1aS3jfUVjyZ77QGUI=";
const PIN_B = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

Deno.test("parseUpstreamSpec() reads pins and client certificate files after @, label unchanged", () => {
  const parsed = parseUpstreamSpec(
    `[2606:4700::1111]:853#cloudflare-dns.com@pin-sha256=${PIN_A}@pin-sha256=${PIN_B}` +
      "@client-cert=/etc/c.pem@client-key=/etc/c.key",
  );
  assert.equal(parsed.label, "[2606:4700::1111]:853#cloudflare-dns.com");
  assert.deepEqual(parsed.pins, [PIN_A, PIN_B]);
  assert.equal(parsed.clientCertFile, "/etc/c.pem");
  assert.equal(parsed.clientKeyFile, "/etc/c.key");
  assert.deepEqual(parseUpstreamSpec(`1.1.1.1@pin-sha256=${PIN_A}`).pins, [PIN_A]);
  assert.equal(parseUpstreamSpec("1.1.1.1").pins, undefined);
});

Deno.test("parseUpstreamSpec() rejects bad options with the reason", () => {
  const cases: [string, RegExp][] = [
    ["1.1.1.1@", /option "" needs a value/],
    ["1.1.1.1@pin-sha256", /option "pin-sha256" needs a value/],
    [`1.1.1.1@pin-sha256=${PIN_A.slice(1)}`, /not a base64 32-byte SHA-256 digest/],
    [`1.1.1.1@pin-sha1=${PIN_A}`, /unknown option "pin-sha1"/],
    ["1.1.1.1@client-key=/k", /client-cert and client-key must be given together/],
    ["1.1.1.1@client-cert=/a@client-cert=/b@client-key=/k", /client-cert is given twice/],
  ];
  for (const [text, reason] of cases) {
    assert.throws(() => parseUpstreamSpec(text), (error) => {
      assert(error instanceof UpstreamSpecError, text);
      assert.match(error.reason, reason, text);
      return true;
    });
  }
});
