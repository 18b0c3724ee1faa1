import assert from "node:assert/strict";
import { DEFAULT_LIMITS, parseConfig, USAGE } from "./config.ts";
import { argv, CERT_A, CERT_B, environment, labels, plain, run } from "./_test_util.ts";

const CLOUDFLARE = ["1.1.1.1:853#cloudflare-dns.com", "1.0.0.1:853#cloudflare-dns.com"];

Deno.test("parseConfig() returns the defaults without arguments or variables", () => {
  const config = run([]);
  assert.deepEqual(config.allow.map((range) => range.text), [
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "fe80::/10",
    "fc00::/7",
  ]);
  assert.deepEqual({ ...config, allow: [] }, { ...config, ...DEFAULT_LIMITS, allow: [] });
  assert.deepEqual(plain(config), {
    listen: ["127.0.0.1"],
    port: 53,
    upstreams: CLOUDFLARE,
    caFile: undefined,
    caCerts: [],
    timeoutMs: 4000,
    maxUdpSize: 1232,
    logLevel: "info",
    logFormat: "json",
    cacheSize: 10000,
    cacheMinTtl: 0,
    cacheMaxTtl: 86400,
    staleTtl: 86400,
  });
  assert(Object.isFrozen(config));
});

Deno.test("parseConfig() defaults to text logs on a terminal and json otherwise", () => {
  assert.equal(run([], {}, true).logFormat, "text");
  assert.equal(run([], {}, false).logFormat, "json");
});

Deno.test("parseConfig() reads every long flag", () => {
  const config = run(argv(
    "--listen 0.0.0.0 --port 5353 --upstream 9.9.9.9#dns.quad9.net --ca-file /ca.pem " +
      "--timeout 2500 --max-udp-size 4096 --log-level debug --log-format text " +
      "--cache-size 50 --cache-min-ttl 5 --cache-max-ttl 3600 --stale-ttl 0",
  ));
  assert.deepEqual(plain(config), {
    listen: ["0.0.0.0"],
    port: 5353,
    upstreams: ["9.9.9.9:853#dns.quad9.net"],
    caFile: "/ca.pem",
    caCerts: [`${CERT_A}\n`, `${CERT_B}\n`],
    timeoutMs: 2500,
    maxUdpSize: 4096,
    logLevel: "debug",
    logFormat: "text",
    cacheSize: 50,
    cacheMinTtl: 5,
    cacheMaxTtl: 3600,
    staleTtl: 0,
  });
});

Deno.test("parseConfig() reads every short flag and inline values", () => {
  const config = run(["-l", "::1", "-p", "8053", "-u", "[2620:fe::fe]:853#dns.quad9.net"]);
  assert.deepEqual(config.listen, ["::1"]);
  assert.equal(config.port, 8053);
  assert.deepEqual(labels(config), ["[2620:fe::fe]:853#dns.quad9.net"]);
  const inline = run(["-l::", "-p0", "--upstream=8.8.8.8#dns.google", "--timeout=1"]);
  assert.deepEqual(inline.listen, ["::"]);
  assert.equal(inline.port, 0);
  assert.deepEqual(labels(inline), ["8.8.8.8:853#dns.google"]);
  assert.equal(inline.timeoutMs, 1);
});

Deno.test("parseConfig() accepts the limits of every numeric setting", () => {
  assert.equal(run(["--port", "0"]).port, 0);
  assert.equal(run(["--port", "65535"]).port, 65535);
  assert.equal(run(["--timeout", "600000"]).timeoutMs, 600000);
  assert.equal(run(["--max-udp-size", "512"]).maxUdpSize, 512);
  assert.equal(run(["--max-udp-size", "65535"]).maxUdpSize, 65535);
});

Deno.test("parseConfig() accepts every log level and format", () => {
  for (const level of ["debug", "info", "warning", "error"]) {
    assert.equal(run(["--log-level", level]).logLevel, level);
  }
  assert.equal(run(["--log-format", "json"], {}, true).logFormat, "json");
  assert.equal(run(["--log-format", "text"], {}, false).logFormat, "text");
});

Deno.test("parseConfig() collects repeatable flags in order", () => {
  const config = run(["-l", "127.0.0.1", "--listen", "::1", "-u", "9.9.9.9", "-u", "[::1]:8853"]);
  assert.deepEqual(config.listen, ["127.0.0.1", "::1"]);
  assert.deepEqual(labels(config), ["9.9.9.9:853", "[::1]:8853"]);
});

Deno.test("parseConfig() keeps the last value of a repeated single flag", () => {
  assert.equal(run(["-p", "1", "--port", "2"]).port, 2);
  assert.equal(run(["--log-level", "error", "--log-level", "debug"]).logLevel, "debug");
});

Deno.test("parseConfig() reads every DOTPROXY_* variable", () => {
  const config = run([], {
    DOTPROXY_LISTEN: "127.0.0.1, ::1",
    DOTPROXY_PORT: "5300",
    DOTPROXY_UPSTREAMS: "9.9.9.9#dns.quad9.net,[2620:fe::fe]#dns.quad9.net",
    DOTPROXY_CA_FILE: "/other.pem",
    DOTPROXY_TIMEOUT: "100",
    DOTPROXY_MAX_UDP_SIZE: "1400",
    DOTPROXY_LOG_LEVEL: "warning",
    DOTPROXY_LOG_FORMAT: "text",
    DOTPROXY_CACHE_SIZE: "0",
    DOTPROXY_CACHE_MIN_TTL: "1",
    DOTPROXY_CACHE_MAX_TTL: "60",
    DOTPROXY_STALE_TTL: "30",
  });
  assert.deepEqual(plain(config), {
    listen: ["127.0.0.1", "::1"],
    port: 5300,
    upstreams: ["9.9.9.9:853#dns.quad9.net", "[2620:fe::fe]:853#dns.quad9.net"],
    caFile: "/other.pem",
    caCerts: [`${CERT_B}\n`],
    timeoutMs: 100,
    maxUdpSize: 1400,
    logLevel: "warning",
    logFormat: "text",
    cacheSize: 0,
    cacheMinTtl: 1,
    cacheMaxTtl: 60,
    staleTtl: 30,
  });
});

Deno.test("parseConfig() lets flags win over DOTPROXY_* variables", () => {
  const env = {
    DOTPROXY_LISTEN: "127.0.0.1,::1",
    DOTPROXY_PORT: "5300",
    DOTPROXY_UPSTREAMS: "9.9.9.9,149.112.112.112",
    DOTPROXY_CA_FILE: "/other.pem",
    DOTPROXY_TIMEOUT: "100",
    DOTPROXY_MAX_UDP_SIZE: "1400",
    DOTPROXY_LOG_LEVEL: "warning",
    DOTPROXY_LOG_FORMAT: "text",
  };
  const config = run(
    argv(
      "-l 10.0.0.1 -p 5301 -u 8.8.8.8 --ca-file /ca.pem --timeout 200 --max-udp-size 1500 " +
        "--log-level error --log-format json",
    ),
    env,
  );
  assert.deepEqual(config.listen, ["10.0.0.1"]);
  assert.equal(config.port, 5301);
  assert.deepEqual(labels(config), ["8.8.8.8:853"]);
  assert.equal(config.caFile, "/ca.pem");
  assert.equal(config.caCerts.length, 2);
  assert.equal(config.timeoutMs, 200);
  assert.equal(config.maxUdpSize, 1500);
  assert.equal(config.logLevel, "error");
  assert.equal(config.logFormat, "json");
});

Deno.test("parseConfig() treats empty variables as unset", () => {
  const empty = [
    "DOTPROXY_LISTEN",
    "DOTPROXY_PORT",
    "DOTPROXY_UPSTREAMS",
    "DOTPROXY_CA_FILE",
    "DOTPROXY_TIMEOUT",
    "DOTPROXY_MAX_UDP_SIZE",
    "DOTPROXY_LOG_LEVEL",
    "DOTPROXY_LOG_FORMAT",
    "DOTPROXY_ALLOW",
    "DOTPROXY_RATE_LIMIT",
    "DOTPROXY_MAX_IN_FLIGHT",
    "DOTPROXY_TCP_IDLE_TIMEOUT",
    "DOT_PORT",
    "DOT_SERVER",
    "DNS_SERVER_IP",
    "DNS_SERVER_PORT",
  ];
  const config = run([], Object.fromEntries(empty.map((name) => [name, ""])));
  assert.deepEqual({ ...config, upstreams: labels(config) }, {
    ...run([]),
    upstreams: CLOUDFLARE,
  });
});

Deno.test("parseConfig() reads the legacy DOT_PORT below DOTPROXY_PORT and --port", () => {
  assert.equal(run([], { DOT_PORT: "5353" }).port, 5353);
  assert.equal(run([], { DOT_PORT: "5353", DOTPROXY_PORT: "5354" }).port, 5354);
  assert.equal(run(["-p", "5355"], { DOT_PORT: "5353", DOTPROXY_PORT: "5354" }).port, 5355);
});

Deno.test("parseConfig() reads DNS_SERVER_IP as one upstream authenticated against its IP", () => {
  assert.deepEqual(labels(run([], { DNS_SERVER_IP: "10.1.1.1" })), ["10.1.1.1:853"]);
  const config = run([], { DNS_SERVER_IP: "10.1.1.1", DNS_SERVER_PORT: "8853" });
  assert.deepEqual(config.upstreams, [
    { address: "10.1.1.1", port: 8853, authName: "10.1.1.1", label: "10.1.1.1:8853" },
  ]);
  const v6 = run([], { DNS_SERVER_IP: "fd00::53", DNS_SERVER_PORT: "853" });
  assert.deepEqual(labels(v6), ["[fd00::53]:853"]);
});

Deno.test("parseConfig() reads DOT_SERVER as one upstream spec", () => {
  const config = run([], { DOT_SERVER: "[2606:4700::1111]:853#cloudflare-dns.com" });
  assert.deepEqual(labels(config), ["[2606:4700::1111]:853#cloudflare-dns.com"]);
});

Deno.test("parseConfig() orders flag, DOTPROXY_*, DOT_SERVER, DNS_SERVER_IP upstreams", () => {
  const env = {
    DNS_SERVER_IP: "10.0.0.4",
    DNS_SERVER_PORT: "8853",
    DOT_SERVER: "10.0.0.3#dot.example",
    DOTPROXY_UPSTREAMS: "10.0.0.2,10.0.0.5",
  };
  assert.deepEqual(labels(run(["-u", "10.0.0.1"], env)), ["10.0.0.1:853"]);
  assert.deepEqual(labels(run([], env)), ["10.0.0.2:853", "10.0.0.5:853"]);
  const { DOTPROXY_UPSTREAMS: _, ...legacy } = env;
  assert.deepEqual(labels(run([], legacy)), ["10.0.0.3:853#dot.example"]);
  const { DOT_SERVER: __, ...oldest } = legacy;
  assert.deepEqual(labels(run([], oldest)), ["10.0.0.4:8853"]);
});

Deno.test("parseConfig() lets a repeatable flag replace the variable's whole list", () => {
  const env = { DOTPROXY_LISTEN: "10.0.0.1,10.0.0.2", DOTPROXY_UPSTREAMS: "9.9.9.9,8.8.8.8" };
  const config = run(["-l", "10.0.0.3", "-u", "1.1.1.1"], env);
  assert.deepEqual(config.listen, ["10.0.0.3"]);
  assert.deepEqual(labels(config), ["1.1.1.1:853"]);
});

Deno.test("parseConfig() reads a real CA file", async () => {
  const path = await Deno.makeTempFile({ suffix: ".pem" });
  try {
    await Deno.writeTextFile(path, `${CERT_A}\n`);
    const result = parseConfig(["--ca-file", path], { env: {}, isTerminal: false });
    assert(result.kind === "run");
    assert.equal(result.config.caFile, path);
    assert.deepEqual(result.config.caCerts, [`${CERT_A}\n`]);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("parseConfig() names the path and OS error of an unreadable CA file", () => {
  const environment = { env: { DOTPROXY_CA_FILE: "/nonexistent/ca.pem" }, isTerminal: false };
  assert.throws(() => parseConfig([], environment), {
    name: "ConfigError",
    message: 'Cannot read DOTPROXY_CA_FILE "/nonexistent/ca.pem": ' +
      "No such file or directory (os error 2)",
  });
});

Deno.test("parseConfig() returns help or version before reading anything else", () => {
  for (const flag of ["-h", "--help"]) {
    assert.deepEqual(parseConfig([flag], environment()), { kind: "help", text: USAGE });
    assert.deepEqual(
      parseConfig(["--bogus", "-p", "x", flag], environment({ DOTPROXY_PORT: "x" })),
      {
        kind: "help",
        text: USAGE,
      },
    );
  }
  for (const flag of ["-V", "--version"]) {
    assert.deepEqual(parseConfig([flag, "extra"], environment()), { kind: "version" });
  }
  assert.deepEqual(parseConfig(["-V", "-h"], environment()), { kind: "version" });
});

Deno.test("parseConfig() reads --hedge off, auto or milliseconds (default auto)", () => {
  assert.equal(run([], {}).hedge, "auto");
  assert.equal(run(["--hedge", "off"], {}).hedge, "off");
  assert.equal(run(["--hedge=250"], {}).hedge, 250);
  assert.equal(run([], { DOTPROXY_HEDGE: "off" }).hedge, "off");
  assert.equal(run(["--hedge", "auto"], { DOTPROXY_HEDGE: "40" }).hedge, "auto");
});

Deno.test("USAGE documents every flag and variable", () => {
  assert(USAGE.startsWith("dotproxy [options]\n"));
  const names = "--listen -l --port -p --upstream -u --ca-file --timeout --max-udp-size " +
    "--log-level --log-format --help -h --version -V DOTPROXY_LISTEN DOTPROXY_PORT " +
    "DOTPROXY_UPSTREAMS DOTPROXY_CA_FILE DOTPROXY_TIMEOUT DOTPROXY_MAX_UDP_SIZE " +
    "DOTPROXY_LOG_LEVEL DOTPROXY_LOG_FORMAT DOT_PORT DOT_SERVER DNS_SERVER_IP DNS_SERVER_PORT " +
    "--cache-size --cache-min-ttl --cache-max-ttl --stale-ttl DOTPROXY_CACHE_SIZE " +
    "DOTPROXY_CACHE_MIN_TTL DOTPROXY_CACHE_MAX_TTL DOTPROXY_STALE_TTL " +
    "--allow --rate-limit --rate-limit-burst --rate-limit-ipv4-prefix --rate-limit-ipv6-prefix " +
    "--max-in-flight --max-tcp-connections --max-tcp-per-client --tcp-idle-timeout " +
    "--upstream-connections --upstream-max-inflight DOTPROXY_ALLOW DOTPROXY_RATE_LIMIT " +
    "DOTPROXY_RATE_LIMIT_BURST DOTPROXY_RATE_LIMIT_IPV4_PREFIX DOTPROXY_RATE_LIMIT_IPV6_PREFIX " +
    "DOTPROXY_MAX_IN_FLIGHT DOTPROXY_MAX_TCP_CONNECTIONS DOTPROXY_MAX_TCP_PER_CLIENT " +
    "DOTPROXY_TCP_IDLE_TIMEOUT DOTPROXY_UPSTREAM_CONNECTIONS DOTPROXY_UPSTREAM_MAX_INFLIGHT " +
    "--tls-client-cert --tls-client-key DOTPROXY_TLS_CLIENT_CERT DOTPROXY_TLS_CLIENT_KEY " +
    "--hedge DOTPROXY_HEDGE";
  for (const name of names.split(" ")) assert(USAGE.includes(name), name);
});
