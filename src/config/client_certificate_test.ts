import assert from "node:assert/strict";
import { type Config, ConfigError, parseConfig } from "./config.ts";
import { fakeFiles } from "./_test_util.ts";

const TLS = new URL("../../tests/testdata/tls/", import.meta.url);
const read = (name: string) => Deno.readTextFileSync(new URL(name, TLS));
const FILES = fakeFiles({
  "/client.pem": read("client.pem"),
  "/client.key": read("client.key"),
  "/other.pem": read("other_client.pem"),
  "/other.key": read("other_client.key"),
  "/garbage.pem": "-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n",
  "/garbage.key": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n",
  "/empty": "",
});
const PIN = "jglkVUaEj5oUsufyPzJdKIxjSZ1aS3jfUVjyZ77QGUI=";

function run(args: readonly string[], env: Record<string, string> = {}): Config {
  const result = parseConfig(args, { env, isTerminal: false, readTextFile: FILES });
  assert(result.kind === "run");
  return result.config;
}

function assertError(args: readonly string[], message: string | RegExp, env = {}): void {
  assert.throws(() => run(args, env), (error) => {
    assert(error instanceof ConfigError, String(error));
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    assert(!error.message.includes("\n"), error.message);
    return true;
  });
}

const GLOBAL = ["--tls-client-cert", "/client.pem", "--tls-client-key", "/client.key"];

Deno.test("--tls-client-cert goes to every DoT upstream, forward zones included, not to udp://", () => {
  const config = run([
    ...GLOBAL,
    "-u",
    "9.9.9.9",
    "--forward-zone",
    "corp.example=10.0.0.1#dns.corp.example,udp://10.0.0.2",
  ]);
  const cert = read("client.pem");
  assert.equal(config.upstreams[0]!.clientCert?.cert, cert);
  assert.equal(config.upstreams[0]!.clientCert?.key, read("client.key"));
  const [dot, plain] = config.forwardZones[0]!.upstreams;
  assert(dot !== undefined && !("plaintext" in dot));
  assert.equal(dot.clientCert?.cert, cert);
  assert(plain !== undefined && "plaintext" in plain && !("clientCert" in plain));
  assert.equal(Object.hasOwn(config, "tlsClientCert"), false);
});

Deno.test("the variables give the client certificate too", () => {
  const config = run([], {
    DOTPROXY_TLS_CLIENT_CERT: "/client.pem",
    DOTPROXY_TLS_CLIENT_KEY: "/client.key",
  });
  assert.equal(config.upstreams.length, 2);
  for (const upstream of config.upstreams) {
    assert.equal(upstream.clientCert?.keyFile, "/client.key");
  }
});

Deno.test("a per-upstream client certificate wins over the global one", () => {
  const spec = `9.9.9.9@client-cert=/other.pem@client-key=/other.key@pin-sha256=${PIN}`;
  const config = run([...GLOBAL, "-u", spec, "-u", "1.1.1.1"]);
  assert.equal(config.upstreams[0]!.clientCert?.certFile, "/other.pem");
  assert.deepEqual(config.upstreams[0]!.pins, [PIN]);
  assert.equal(config.upstreams[1]!.clientCert?.certFile, "/client.pem");
  assert.equal(config.upstreams[1]!.pins, undefined);
});

Deno.test("no client certificate: the upstreams are as before", () => {
  assert.equal("clientCert" in run(["-u", "9.9.9.9"]).upstreams[0]!, false);
});

Deno.test("a bad client certificate or key is one line naming the flag", () => {
  assertError(
    ["--tls-client-cert", "/client.pem"],
    'Invalid --tls-client-cert "/client.pem": --tls-client-key is not set',
  );
  assertError(
    ["--tls-client-key", "/client.key"],
    'Invalid --tls-client-key "/client.key": --tls-client-cert is not set',
  );
  assertError(
    ["--tls-client-cert", "/client.pem", "--tls-client-key", "/other.key"],
    'Invalid --tls-client-key "/other.key": the key does not match the certificate of ' +
      '--tls-client-cert "/client.pem"',
  );
  assertError(
    ["--tls-client-cert", "/empty", "--tls-client-key", "/client.key"],
    'Invalid --tls-client-cert "/empty": no -----BEGIN CERTIFICATE----- block',
  );
  assertError(
    ["--tls-client-cert", "/garbage.pem", "--tls-client-key", "/client.key"],
    /^Invalid --tls-client-cert "\/garbage\.pem": cannot parse a certificate \(/,
  );
  assertError(
    ["--tls-client-cert", "/client.pem", "--tls-client-key", "/garbage.key"],
    /^Invalid --tls-client-key "\/garbage\.key": cannot parse the private key \(/,
  );
  assertError(
    ["--tls-client-cert", "/client.pem", "--tls-client-key", "/client.pem"],
    /^Invalid --tls-client-key "\/client\.pem": cannot parse the private key \(/,
  );
  assertError(
    ["--tls-client-cert", "/missing.pem", "--tls-client-key", "/client.key"],
    'Cannot read --tls-client-cert "/missing.pem": No such file or directory (os error 2)',
  );
  assertError(
    [],
    'Invalid DOTPROXY_TLS_CLIENT_KEY "/other.key": the key does not match the certificate of ' +
      'DOTPROXY_TLS_CLIENT_CERT "/client.pem"',
    { DOTPROXY_TLS_CLIENT_CERT: "/client.pem", DOTPROXY_TLS_CLIENT_KEY: "/other.key" },
  );
});

Deno.test("bad per-upstream TLS options name the flag and the spec", () => {
  const spec = "9.9.9.9@client-cert=/client.pem@client-key=/other.key";
  assertError(
    ["--upstream", spec],
    `Invalid --upstream "${spec}" option client-key "/other.key": the key does not match ` +
      `the certificate of --upstream "${spec}" option client-cert "/client.pem"`,
  );
  assertError(
    ["--upstream", "9.9.9.9@client-cert=/client.pem"],
    'Invalid --upstream "9.9.9.9@client-cert=/client.pem": client-cert and client-key must be ' +
      "given together",
  );
  assertError(
    ["--upstream", "9.9.9.9@pin-sha256=abc"],
    'Invalid --upstream "9.9.9.9@pin-sha256=abc": pin-sha256 "abc" is not a base64 32-byte ' +
      "SHA-256 digest (44 characters)",
  );
  assertError(
    ["--forward-zone", "corp.example=10.0.0.1@client-cert=/x.pem@client-key=/client.key"],
    'Cannot read --forward-zone "corp.example=10.0.0.1@client-cert=/x.pem@client-key=/client.key"' +
      ' option client-cert "/x.pem": No such file or directory (os error 2)',
  );
  assertError(
    ["--forward-zone", `corp.example=udp://10.0.0.1@pin-sha256=${PIN}`],
    /a plaintext upstream has no TLS options$/,
  );
});
