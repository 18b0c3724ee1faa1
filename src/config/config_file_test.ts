import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { type Config, ConfigError, parseConfig, SETTINGS } from "./config.ts";

const CERT = "-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n";
const TLS = new URL("../../tests/testdata/tls/", import.meta.url);
const CLIENT_FILES = {
  "/client.pem": Deno.readTextFileSync(new URL("client.pem", TLS)),
  "/client.key": Deno.readTextFileSync(new URL("client.key", TLS)),
};
const ANCHOR = "corp. IN DS 1 13 2 00\n";

/** Parses with fake files: `/ca.pem`, a client certificate and the YAML files given. */
function parse(args: readonly string[], files: Record<string, string>, env = {}): Config {
  const result = parseConfig(args, {
    env,
    isTerminal: false,
    readTextFile: (path) => {
      const all: Record<string, string> = {
        "/ca.pem": CERT,
        "/anchors.zone": ANCHOR,
        ...CLIENT_FILES,
        ...files,
      };
      const text = all[path];
      if (text === undefined) throw new Deno.errors.NotFound(`No such file: readfile '${path}'`);
      return text;
    },
  });
  assert(result.kind === "run");
  return result.config;
}

/** Parses `/f.yaml` holding `yaml`, plus `args` and `env`. */
function withFile(yaml: string, args: readonly string[] = [], env = {}): Config {
  return parse(["--config", "/f.yaml", ...args], { "/f.yaml": yaml }, env);
}

function assertFileError(yaml: string, message: string | RegExp): void {
  assert.throws(() => withFile(yaml), (error) => {
    assert(error instanceof ConfigError, String(error));
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    assert(!error.message.includes("\n"), error.message);
    return true;
  });
}

/** A value other than the default for every setting, as the flag would take it. */
const NON_DEFAULT: Record<string, readonly string[]> = {
  listen: ["0.0.0.0", "::1"],
  port: ["5353"],
  upstream: ["9.9.9.9#dns.quad9.net", "[2620:fe::fe]:853#dns.quad9.net"],
  "ca-file": ["/ca.pem"],
  "tls-client-cert": ["/client.pem"],
  "tls-client-key": ["/client.key"],
  timeout: ["2500"],
  "max-udp-size": ["4096"],
  "log-level": ["debug"],
  "log-format": ["text"],
  "cache-size": ["50"],
  "cache-min-ttl": ["5"],
  "cache-max-ttl": ["3600"],
  "stale-ttl": ["0"],
  allow: ["10.0.0.0/8", "2001:db8::/32"],
  "rate-limit": ["100"],
  "rate-limit-burst": ["200"],
  "rate-limit-ipv4-prefix": ["24"],
  "rate-limit-ipv6-prefix": ["56"],
  "max-in-flight": ["500"],
  "max-tcp-connections": ["100"],
  "max-tcp-per-client": ["5"],
  "tcp-idle-timeout": ["5000"],
  "upstream-connections": ["4"],
  "upstream-max-inflight": ["100"],
  http: ["127.0.0.1:9153"],
  lameduck: ["5000"],
  "log-queries": ["true"],
  workers: ["3"],
  "trace-query-names": ["true"],
  "forward-zone": [
    "corp.example=10.8.0.1:853#dns.corp.example",
    "cluster.local=udp://10.96.0.10,udp://10.96.0.11:5353",
  ],
  "upstream-policy": ["sequential"],
  hedge: ["75"],
  "builtin-zones": ["false"],
  dnssec: ["validate"],
  "trust-anchor-file": ["/anchors.zone"],
  "dnssec-insecure": ["corp.example", "lab.internal"],
};

/** A YAML scalar: numbers and booleans bare, anything else quoted. */
function scalar(raw: string): string {
  return /^([0-9]+|true|false)$/.test(raw) ? raw : JSON.stringify(raw);
}

Deno.test("a config file can set every setting, with the same result as the flags", () => {
  const flags = Object.values(SETTINGS).map((setting) => setting.flag);
  assert.deepEqual(Object.keys(NON_DEFAULT).sort(), [...flags].sort(), "NON_DEFAULT is complete");
  const yaml = Object.entries(NON_DEFAULT).map(([flag, values]) =>
    values.length === 1 ? `${flag}: ${scalar(values[0]!)}` : `${flag}: [${values.map(scalar)}]`
  ).join("\n");
  const args = Object.entries(NON_DEFAULT).flatMap(([flag, values]) =>
    values.map((value) => `--${flag}=${value}`)
  );
  const fromFile = withFile(yaml);
  assert.deepEqual(fromFile, parse(args, {}));
  const defaults = parse([], {});
  // The client certificate is not a field of its own: it is given to the upstreams.
  const consumed = ["tlsClientCert", "tlsClientKey"];
  for (const key of Object.keys(SETTINGS) as (keyof Config)[]) {
    if (consumed.includes(key)) continue;
    assert(!isDeepStrictEqual(fromFile[key], defaults[key]), `${key} is not a default`);
  }
  assert.equal(fromFile.upstreams[0]!.clientCert?.certFile, "/client.pem");
});

Deno.test("a config file takes a block list, a flow list or one scalar for a repeatable setting", () => {
  const labels = (config: Config) => config.upstreams.map((upstream) => upstream.label);
  const block = withFile("upstream:\n  - 9.9.9.9#dns.quad9.net\n  - 1.1.1.1\n");
  assert.deepEqual(labels(block), ["9.9.9.9:853#dns.quad9.net", "1.1.1.1:853"]);
  assert.deepEqual(labels(withFile("upstream: [9.9.9.9#dns.quad9.net, 1.1.1.1]")), labels(block));
  assert.deepEqual(labels(withFile("upstream: 1.1.1.1")), ["1.1.1.1:853"]);
  assert.deepEqual(withFile('listen: [127.0.0.1, "::1", ::2]').listen, ["127.0.0.1", "::1", "::2"]);
});

Deno.test("an empty config file, comments only, and keys without a value give the defaults", () => {
  const defaults = parse([], {});
  for (const yaml of ["", "\n", "# nothing yet\n", "---\n", "port:\nupstream: ~\nallow: null\n"]) {
    assert.deepEqual(withFile(yaml), defaults, JSON.stringify(yaml));
  }
});

Deno.test("precedence: flag > DOTPROXY_* > legacy variable > config file > default", () => {
  const yaml = "port: 1000\nupstream: [9.9.9.9, 9.9.9.10]\ncache-size: 7\n";
  assert.equal(withFile(yaml).port, 1000);
  assert.equal(withFile(yaml).cacheSize, 7);
  assert.equal(withFile(yaml, [], { DOT_PORT: "2000" }).port, 2000);
  assert.equal(withFile(yaml, [], { DOT_PORT: "2000", DOTPROXY_PORT: "3000" }).port, 3000);
  assert.equal(withFile(yaml, ["-p", "4000"], { DOTPROXY_PORT: "3000" }).port, 4000);
  const upstreams = (config: Config) => config.upstreams.map((upstream) => upstream.label);
  assert.deepEqual(upstreams(withFile(yaml)), ["9.9.9.9:853", "9.9.9.10:853"]);
  assert.deepEqual(upstreams(withFile(yaml, [], { DNS_SERVER_IP: "8.8.8.8" })), ["8.8.8.8:853"]);
  assert.deepEqual(upstreams(withFile(yaml, [], { DOTPROXY_UPSTREAMS: "8.8.4.4" })), [
    "8.8.4.4:853",
  ]);
  assert.deepEqual(upstreams(withFile(yaml, ["-u", "1.1.1.1"])), ["1.1.1.1:853"]);
  assert.equal(withFile("", [], { DOTPROXY_CACHE_SIZE: "" }).cacheSize, 10000);
});

Deno.test("DOTPROXY_CONFIG names the file; --config wins over it", () => {
  const files = { "/env.yaml": "port: 1\n", "/flag.yaml": "port: 2\n" };
  assert.equal(parse([], files, { DOTPROXY_CONFIG: "/env.yaml" }).port, 1);
  assert.equal(parse(["--config=/flag.yaml"], files, { DOTPROXY_CONFIG: "/env.yaml" }).port, 2);
  const result = parseConfig(["--config", "/flag.yaml"], {
    env: {},
    isTerminal: false,
    readTextFile: () => "port: 2",
  });
  assert(result.kind === "run");
  assert.equal(result.configFile, "/flag.yaml");
  const none = parseConfig([], { env: {}, isTerminal: false });
  assert(none.kind === "run");
  assert.equal(none.configFile, undefined);
});

const BAD_FILES: [string, string | RegExp][] = [
  [
    "cache-size: lots",
    'Invalid config file key "cache-size" = "lots" in /f.yaml: expected an integer from 0 to 10000000',
  ],
  [
    "cache-size: 20000000",
    'Invalid config file key "cache-size" = "20000000" in /f.yaml: expected an integer from 0 to 10000000',
  ],
  ["port: -1", /^Invalid config file key "port" = "-1" in \/f\.yaml: expected an integer/],
  ["port: 5.5", /^Invalid config file key "port" = "5\.5" in \/f\.yaml/],
  [
    "port: [53, 54]",
    'Invalid config file key "port" in /f.yaml: expected a single value, got a list',
  ],
  ["http: {a: 1}", 'Invalid config file key "http" in /f.yaml: expected a single value, got a map'],
  [
    "upstream:\n  - 1.1.1.1\n  - [9.9.9.9]",
    'Invalid config file key "upstream[1]" in /f.yaml: expected a string, number or true/false, got a list',
  ],
  ["allow: []", /^Invalid config file key "allow" in \/f\.yaml: expected at least one item/],
  [
    "forward-zone:\n  - corp.example=udp://10.0.0.1\n  - corp.example",
    'Invalid config file key "forward-zone[1]" = "corp.example" in /f.yaml: expected ZONE=SPEC[,SPEC...]',
  ],
  ["listen: [localhost]", /^Invalid config file key "listen\[0\]" = "localhost" in \/f\.yaml/],
  ["log-queries: maybe", /^Invalid config file key "log-queries" = "maybe" .*true or false$/],
  ["upstream-policy: random", /"upstream-policy" = "random" in \/f\.yaml: expected one of/],
  ["hedge: 0", /"hedge" = "0" in \/f\.yaml: expected off, auto or a delay in milliseconds/],
  [
    "ca-file: /missing.pem",
    /^Cannot read config file key "ca-file" = "\/missing\.pem" in \/f\.yaml/,
  ],
  ["port: !!binary aGVsbG8=", /key "port" in \/f\.yaml: expected a single value, got binary data/],
  [
    "- port: 53",
    "Invalid config file /f.yaml: expected a map of settings (key: value), got a list",
  ],
  ["just words", /^Invalid config file \/f\.yaml: expected a map .*, got a string$/],
  ["config: /other.yaml", /^Invalid config file key "config" in \/f\.yaml: give --config/],
];
for (const [yaml, message] of BAD_FILES) {
  Deno.test(`a config file holding ${JSON.stringify(yaml)} is rejected naming the key`, () => {
    assertFileError(yaml, message);
  });
}

Deno.test("an unknown key is rejected, with the closest setting when one is close", () => {
  const cases: [string, string][] = [
    ["cache_size: 5", 'Unknown key "cache_size" in /f.yaml (did you mean "cache-size"?)'],
    ["cacheSize: 5", 'Unknown key "cacheSize" in /f.yaml (did you mean "cache-size"?)'],
    ["upstreams: [1.1.1.1]", 'Unknown key "upstreams" in /f.yaml (did you mean "upstream"?)'],
    ["forward-zones: []", 'Unknown key "forward-zones" in /f.yaml (did you mean "forward-zone"?)'],
    ["--port: 53", 'Unknown key "--port" in /f.yaml (did you mean "port"?)'],
    ["verbose: true", 'Unknown key "verbose" in /f.yaml'],
    ["help: true", 'Unknown key "help" in /f.yaml'],
  ];
  for (const [yaml, message] of cases) assertFileError(yaml, message);
});

Deno.test("a YAML syntax error names the file and the line, in one line", () => {
  assertFileError(
    "port: 53\nlisten: [127.0.0.1\ncache-size: 5\n",
    /^Cannot parse config file \/f\.yaml: line 3: Flow sequence .* end with a \]$/,
  );
  assertFileError(
    "port: 53\nport: 54\n",
    "Cannot parse config file /f.yaml: line 2: Map keys must be unique",
  );
  assertFileError("port: 53\n\tlisten: x\n", /^Cannot parse config file \/f\.yaml: line 2: Tabs/);
  assertFileError('port: "53\n', /^Cannot parse config file \/f\.yaml: line \d+: /);
});

Deno.test("an unreadable config file is named with its flag or variable", () => {
  assert.throws(
    () => parse(["--config", "/nope.yaml"], {}),
    new ConfigError('Cannot read --config "/nope.yaml": No such file'),
  );
  assert.throws(
    () => parse([], {}, { DOTPROXY_CONFIG: "/nope.yaml" }),
    new ConfigError('Cannot read DOTPROXY_CONFIG "/nope.yaml": No such file'),
  );
});

Deno.test("a bad value in the config file is rejected even when a flag overrides it", () => {
  assert.throws(() => withFile("port: 70000", ["--port", "53"]), ConfigError);
});

const EXAMPLE = new URL("../../docs/dotproxy.example.yaml", import.meta.url).pathname;

Deno.test("docs/dotproxy.example.yaml parses to the defaults and shows every setting", () => {
  const result = parseConfig(["--config", EXAMPLE], { env: {}, isTerminal: false });
  assert(result.kind === "run");
  assert.deepEqual(result.config, parse([], {}), "each value shown is the default");
  const text = Deno.readTextFileSync(EXAMPLE);
  for (const { flag } of Object.values(SETTINGS)) {
    assert.match(text, new RegExp(`^(# )?${flag}:`, "m"), `${flag} is in the example`);
    assert.match(text, new RegExp(`Default: .*\\n(#.*\\n)*(# )?${flag}:`), `${flag} has a default`);
  }
});

Deno.test("the YAML examples of docs/configuration.md are valid configuration files", () => {
  const doc = Deno.readTextFileSync(new URL("../../docs/configuration.md", import.meta.url));
  const blocks = [...doc.matchAll(/```yaml\n([^]*?)```/g)].map((match) => match[1]!);
  assert.equal(blocks.length, 3);
  const files = { "/etc/dotproxy/corp-ca.pem": CERT };
  const configs = blocks.map((yaml) =>
    parse(["--config", "/f.yaml"], { ...files, "/f.yaml": yaml })
  );
  const zones = configs.map((config) => config.forwardZones.map((forward) => forward.zone));
  assert.deepEqual(zones, [["corp.example"], ["corp.example", "8.10.in-addr.arpa"], [
    "cluster.local",
    "10.in-addr.arpa",
  ]]);
});
