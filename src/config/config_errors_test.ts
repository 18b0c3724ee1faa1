// Every bad flag and variable fails with one line naming it and the value.

import { argv, assertConfigError } from "./_test_util.ts";

const PORT_RANGE = "expected an integer from 0 to 65535";
const UPSTREAM_PORT = "port must be an integer from 1 to 65535";
const NOT_IP = "expected an IPv4 or IPv6 address";
const NO_CERT = "no -----BEGIN CERTIFICATE----- block";
const LEVELS = "expected one of debug, info, warning, error";
const TIMEOUT_RANGE = "expected an integer from 1 to 600000";
const UDP_RANGE = "expected an integer from 512 to 65535";
const HEDGE = "expected off, auto or a delay in milliseconds from 1 to 60000";
const NO_BOOTSTRAP = "is not an IP address (hostnames are not supported: no bootstrap DNS)";

function missingValue(flag: string, value: string, long: string): string {
  return `Missing value for ${flag}, got "${value}" ` +
    `(write ${long}=VALUE for a value starting with "-")`;
}

const FLAG_ERRORS: readonly [string, string][] = [
  ["--foo", "Unknown option --foo"],
  ["--foo=bar", "Unknown option --foo"],
  ["-x", "Unknown option -x"],
  ["--no-port", "Unknown option --no-port"],
  ["serve", 'Unexpected argument "serve"'],
  ["-- -p", 'Unexpected argument "-p"'],
  ["--port", "Missing value for --port"],
  ["-p", "Missing value for -p"],
  ["--listen", "Missing value for --listen"],
  ["-l", "Missing value for -l"],
  ["--upstream", "Missing value for --upstream"],
  ["-u", "Missing value for -u"],
  ["--ca-file", "Missing value for --ca-file"],
  ["--timeout", "Missing value for --timeout"],
  ["--max-udp-size", "Missing value for --max-udp-size"],
  ["--log-level", "Missing value for --log-level"],
  ["--log-format", "Missing value for --log-format"],
  ["--port --listen ::1", missingValue("--port", "--listen", "--port")],
  ["-u -l ::1", missingValue("-u", "-l", "--upstream")],
  ["--timeout -5", missingValue("--timeout", "-5", "--timeout")],
  ["--port 70000", `Invalid --port "70000": ${PORT_RANGE}`],
  ["--port=-1", `Invalid --port "-1": ${PORT_RANGE}`],
  ["-p-1", `Invalid -p "-1": ${PORT_RANGE}`],
  ["-p 53.5", `Invalid -p "53.5": ${PORT_RANGE}`],
  ["-p 0x35", `Invalid -p "0x35": ${PORT_RANGE}`],
  ["--port=", `Invalid --port "": ${PORT_RANGE}`],
  ["-l localhost", `Invalid -l "localhost": ${NOT_IP}`],
  ["--listen [::1]", `Invalid --listen "[::1]": ${NOT_IP}`],
  ["--listen 127.0.0.1,::1", `Invalid --listen "127.0.0.1,::1": ${NOT_IP}`],
  ["-u 1.1.1.1:x", `Invalid -u "1.1.1.1:x": ${UPSTREAM_PORT}`],
  ["--upstream 9.9.9.9:0", `Invalid --upstream "9.9.9.9:0": ${UPSTREAM_PORT}`],
  [
    "--upstream dns.google",
    `Invalid --upstream "dns.google": address "dns.google" ${NO_BOOTSTRAP}`,
  ],
  [
    "--ca-file /nope.pem",
    'Cannot read --ca-file "/nope.pem": No such file or directory (os error 2)',
  ],
  ["--ca-file -", 'Cannot read --ca-file "-": No such file or directory (os error 2)'],
  ["--ca-file /empty.pem", `Invalid --ca-file "/empty.pem": ${NO_CERT}`],
  ["--ca-file /key.pem", `Invalid --ca-file "/key.pem": ${NO_CERT}`],
  [
    "--ca-file /cut.pem",
    'Invalid --ca-file "/cut.pem": an unterminated -----BEGIN CERTIFICATE----- block',
  ],
  ["--timeout 0", `Invalid --timeout "0": ${TIMEOUT_RANGE}`],
  ["--timeout 600001", `Invalid --timeout "600001": ${TIMEOUT_RANGE}`],
  ["--max-udp-size 511", `Invalid --max-udp-size "511": ${UDP_RANGE}`],
  ["--max-udp-size 65536", `Invalid --max-udp-size "65536": ${UDP_RANGE}`],
  ["--log-level warn", `Invalid --log-level "warn": ${LEVELS}`],
  ["--log-level INFO", `Invalid --log-level "INFO": ${LEVELS}`],
  ["--log-format yaml", 'Invalid --log-format "yaml": expected one of text, json'],
  ["--hedge on", `Invalid --hedge "on": ${HEDGE}`],
  ["--hedge 0", `Invalid --hedge "0": ${HEDGE}`],
  ["--hedge 60001", `Invalid --hedge "60001": ${HEDGE}`],
  ["--hedge 5ms", `Invalid --hedge "5ms": ${HEDGE}`],
];

for (const [line, message] of FLAG_ERRORS) {
  Deno.test(`parseConfig() rejects ${line}`, () => assertConfigError(argv(line), {}, message));
}

const ENV_ERRORS: readonly [Record<string, string>, string][] = [
  [{ DOTPROXY_PORT: "http" }, `Invalid DOTPROXY_PORT "http": ${PORT_RANGE}`],
  [{ DOT_PORT: "65536" }, `Invalid DOT_PORT "65536": ${PORT_RANGE}`],
  [{ DOTPROXY_LISTEN: "127.0.0.1,lo" }, `Invalid DOTPROXY_LISTEN "lo": ${NOT_IP}`],
  [
    { DOTPROXY_LISTEN: "127.0.0.1,,::1" },
    'Invalid DOTPROXY_LISTEN "127.0.0.1,,::1": empty item in comma-separated list',
  ],
  [
    { DOTPROXY_UPSTREAMS: "9.9.9.9,1.1.1.1:x" },
    `Invalid DOTPROXY_UPSTREAMS "1.1.1.1:x": ${UPSTREAM_PORT}`,
  ],
  [
    { DOTPROXY_UPSTREAMS: "9.9.9.9," },
    'Invalid DOTPROXY_UPSTREAMS "9.9.9.9,": empty item in comma-separated list',
  ],
  [
    { DOT_SERVER: "dns.google" },
    `Invalid DOT_SERVER "dns.google": address "dns.google" ${NO_BOOTSTRAP}`,
  ],
  [
    { DOT_SERVER: "9.9.9.9,8.8.8.8" },
    `Invalid DOT_SERVER "9.9.9.9,8.8.8.8": address "9.9.9.9,8.8.8.8" ${NO_BOOTSTRAP}`,
  ],
  [{ DNS_SERVER_IP: "dns.google" }, `Invalid DNS_SERVER_IP "dns.google": ${NOT_IP}`],
  [
    { DNS_SERVER_IP: "9.9.9.9", DNS_SERVER_PORT: "0" },
    'Invalid DNS_SERVER_PORT "0": expected an integer from 1 to 65535',
  ],
  [{ DNS_SERVER_PORT: "853" }, 'Invalid DNS_SERVER_PORT "853": DNS_SERVER_IP is not set'],
  [{ DOTPROXY_CA_FILE: "/key.pem" }, `Invalid DOTPROXY_CA_FILE "/key.pem": ${NO_CERT}`],
  [{ DOTPROXY_TIMEOUT: "4s" }, `Invalid DOTPROXY_TIMEOUT "4s": ${TIMEOUT_RANGE}`],
  [{ DOTPROXY_MAX_UDP_SIZE: "big" }, `Invalid DOTPROXY_MAX_UDP_SIZE "big": ${UDP_RANGE}`],
  [{ DOTPROXY_LOG_LEVEL: "trace" }, `Invalid DOTPROXY_LOG_LEVEL "trace": ${LEVELS}`],
  [{ DOTPROXY_HEDGE: "Auto" }, `Invalid DOTPROXY_HEDGE "Auto": ${HEDGE}`],
  [
    { DOTPROXY_LOG_FORMAT: "JSON" },
    'Invalid DOTPROXY_LOG_FORMAT "JSON": expected one of text, json',
  ],
];

for (const [env, message] of ENV_ERRORS) {
  Deno.test(`parseConfig() rejects ${JSON.stringify(env)}`, () => {
    assertConfigError([], env, message);
  });
}

Deno.test("parseConfig() rejects bad values that a higher-precedence source overrides", () => {
  assertConfigError(
    ["-p", "53"],
    { DOTPROXY_PORT: "x" },
    `Invalid DOTPROXY_PORT "x": ${PORT_RANGE}`,
  );
  assertConfigError(["-p", "x", "-p", "53"], {}, `Invalid -p "x": ${PORT_RANGE}`);
  assertConfigError(
    [],
    { DOTPROXY_PORT: "53", DOT_PORT: "x" },
    `Invalid DOT_PORT "x": ${PORT_RANGE}`,
  );
  assertConfigError(
    [],
    { DOT_SERVER: "9.9.9.9", DNS_SERVER_IP: "dns.google" },
    `Invalid DNS_SERVER_IP "dns.google": ${NOT_IP}`,
  );
});
