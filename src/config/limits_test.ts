import assert from "node:assert/strict";
import { ConfigError, DEFAULT_LIMITS, parseConfig } from "./config.ts";
import type { Config, LimitsConfig } from "./config.ts";

function run(args: readonly string[], env: Record<string, string> = {}): Config {
  const result = parseConfig(args, { env, isTerminal: false });
  assert(result.kind === "run");
  return result.config;
}

/** The limits of a config, with ranges as text. */
function limits(config: Config): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof LimitsConfig)[]) {
    picked[key] = config[key];
  }
  return { ...picked, allow: config.allow.map((range) => range.text) };
}

const EVERY_FLAG = "--allow 127.0.0.1/32 --allow 2001:db8::/32 --rate-limit 50 " +
  "--rate-limit-burst 200 --rate-limit-ipv4-prefix 24 --rate-limit-ipv6-prefix 56 " +
  "--max-in-flight 300 --max-tcp-connections 64 --max-tcp-per-client 4 --tcp-idle-timeout 3000 " +
  "--upstream-connections 4 --upstream-max-inflight 100";

const EVERY_VALUE = {
  allow: ["127.0.0.1/32", "2001:db8::/32"],
  rateLimit: 50,
  rateLimitBurst: 200,
  rateLimitIpv4Prefix: 24,
  rateLimitIpv6Prefix: 56,
  maxInFlight: 300,
  maxTcpConnections: 64,
  maxTcpPerClient: 4,
  tcpIdleTimeoutMs: 3000,
  upstreamConnections: 4,
  upstreamMaxInFlight: 100,
};

const EVERY_VARIABLE = {
  DOTPROXY_ALLOW: "127.0.0.1/32, 2001:db8::/32",
  DOTPROXY_RATE_LIMIT: "50",
  DOTPROXY_RATE_LIMIT_BURST: "200",
  DOTPROXY_RATE_LIMIT_IPV4_PREFIX: "24",
  DOTPROXY_RATE_LIMIT_IPV6_PREFIX: "56",
  DOTPROXY_MAX_IN_FLIGHT: "300",
  DOTPROXY_MAX_TCP_CONNECTIONS: "64",
  DOTPROXY_MAX_TCP_PER_CLIENT: "4",
  DOTPROXY_TCP_IDLE_TIMEOUT: "3000",
  DOTPROXY_UPSTREAM_CONNECTIONS: "4",
  DOTPROXY_UPSTREAM_MAX_INFLIGHT: "100",
};

Deno.test("parseConfig() defaults the limits as documented", () => {
  assert.deepEqual(limits(run([])), {
    allow: [
      "127.0.0.0/8",
      "::1/128",
      "10.0.0.0/8",
      "172.16.0.0/12",
      "192.168.0.0/16",
      "169.254.0.0/16",
      "fe80::/10",
      "fc00::/7",
    ],
    rateLimit: 0,
    rateLimitBurst: 0,
    rateLimitIpv4Prefix: 32,
    rateLimitIpv6Prefix: 64,
    maxInFlight: 1000,
    maxTcpConnections: 1000,
    maxTcpPerClient: 20,
    tcpIdleTimeoutMs: 10000,
    upstreamConnections: 2,
    upstreamMaxInFlight: 512,
  });
});

Deno.test("parseConfig() reads every limit flag", () => {
  assert.deepEqual(limits(run(EVERY_FLAG.split(" "))), EVERY_VALUE);
});

Deno.test("parseConfig() reads every limit variable", () => {
  assert.deepEqual(limits(run([], EVERY_VARIABLE)), EVERY_VALUE);
});

Deno.test("parseConfig() lets limit flags win over variables, and --allow replace the list", () => {
  const env = { ...EVERY_VARIABLE, DOTPROXY_RATE_LIMIT: "7" };
  const config = run(["--allow", "10.0.0.0/8", "--rate-limit", "9"], env);
  assert.deepEqual(config.allow.map((range) => range.text), ["10.0.0.0/8"]);
  assert.equal(config.rateLimit, 9);
  assert.equal(config.maxInFlight, 300);
});

Deno.test("parseConfig() writes allowed ranges in canonical form", () => {
  const config = run(["--allow", "0.0.0.0/0", "--allow", "::/0", "--allow", "FD00:0::/8"]);
  assert.deepEqual(config.allow.map((range) => range.text), ["0.0.0.0/0", "::/0", "fd00::/8"]);
});

const ERRORS: readonly [readonly string[], Record<string, string>, string][] = [
  [
    ["--allow", "10.0.0.0/33"],
    {},
    'Invalid --allow "10.0.0.0/33": expected a prefix length from 0 to 32',
  ],
  [
    ["--allow", "10.1.0.0/8"],
    {},
    'Invalid --allow "10.1.0.0/8": bits are set beyond the /8 prefix',
  ],
  [
    ["--allow", "lan"],
    {},
    'Invalid --allow "lan": expected an IPv4 or IPv6 address with an optional /PREFIX',
  ],
  [
    [],
    { DOTPROXY_ALLOW: "127.0.0.1,," },
    'Invalid DOTPROXY_ALLOW "127.0.0.1,,": empty item in comma-separated list',
  ],
  [
    [],
    { DOTPROXY_ALLOW: "::1,fe80::1/10" },
    'Invalid DOTPROXY_ALLOW "fe80::1/10": bits are set beyond the /10 prefix',
  ],
  [
    ["--rate-limit", "-1"],
    {},
    'Missing value for --rate-limit, got "-1" (write --rate-limit=VALUE for a value starting with "-")',
  ],
  [
    ["--rate-limit", "fast"],
    {},
    'Invalid --rate-limit "fast": expected an integer from 0 to 1000000',
  ],
  [
    ["--rate-limit-ipv4-prefix", "33"],
    {},
    'Invalid --rate-limit-ipv4-prefix "33": expected an integer from 8 to 32',
  ],
  [
    ["--rate-limit-ipv6-prefix", "8"],
    {},
    'Invalid --rate-limit-ipv6-prefix "8": expected an integer from 16 to 128',
  ],
  [
    ["--max-in-flight", "0"],
    {},
    'Invalid --max-in-flight "0": expected an integer from 1 to 1000000',
  ],
  [
    ["--max-tcp-connections", "0"],
    {},
    'Invalid --max-tcp-connections "0": expected an integer from 1 to 1000000',
  ],
  [
    ["--max-tcp-per-client", "0"],
    {},
    'Invalid --max-tcp-per-client "0": expected an integer from 1 to 1000000',
  ],
  [
    ["--tcp-idle-timeout", "50"],
    {},
    'Invalid --tcp-idle-timeout "50": expected an integer from 100 to 600000',
  ],
  [
    ["--upstream-connections", "65"],
    {},
    'Invalid --upstream-connections "65": expected an integer from 1 to 64',
  ],
  [
    ["--upstream-max-inflight", "65536"],
    {},
    'Invalid --upstream-max-inflight "65536": expected an integer from 1 to 65535',
  ],
  [
    [],
    { DOTPROXY_MAX_TCP_PER_CLIENT: "many" },
    'Invalid DOTPROXY_MAX_TCP_PER_CLIENT "many": expected an integer from 1 to 1000000',
  ],
];

for (const [args, env, message] of ERRORS) {
  Deno.test(`parseConfig() rejects ${[...args, JSON.stringify(env)].join(" ")}`, () => {
    assert.throws(() => parseConfig(args, { env, isTerminal: false }), (error) => {
      assert(error instanceof ConfigError);
      assert.equal(error.message, message);
      return true;
    });
  });
}
