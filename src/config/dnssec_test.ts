import assert from "node:assert/strict";
import { assertConfigError, fakeFiles, run } from "./_test_util.ts";
import { parseConfig } from "./config.ts";

Deno.test("--dnssec defaults to off and takes validate from the flag or DOTPROXY_DNSSEC", () => {
  assert.equal(run([]).dnssec, "off");
  assert.equal(run([]).trustAnchorFile, undefined);
  assert.equal(run(["--dnssec", "validate"]).dnssec, "validate");
  assert.equal(run([], { DOTPROXY_DNSSEC: "validate" }).dnssec, "validate");
  assertConfigError(
    ["--dnssec", "on"],
    {},
    'Invalid --dnssec "on": expected one of off, validate',
  );
});

Deno.test("--trust-anchor-file reads DS and DNSKEY lines and names bad ones", () => {
  const readTextFile = fakeFiles({
    "/a.zone":
      ". IN DS 56361 13 2 70d4d4c28418480de01ca13db1f186d1c5750f82dbf3de54cd7048f5f1b11b4b\n",
    "/bad.zone": ". IN DS 1 13 2 zz\n",
    "/none.zone": "; nothing\n",
  });
  const parse = (path: string) =>
    parseConfig(["--trust-anchor-file", path], { env: {}, isTerminal: false, readTextFile });
  const result = parse("/a.zone");
  assert(result.kind === "run");
  assert.equal(result.config.trustAnchorFile?.path, "/a.zone");
  assert.equal(result.config.trustAnchorFile?.anchors[0]?.ds[0]?.keyTag, 56361);
  assert.throws(
    () => parse("/bad.zone"),
    /Invalid --trust-anchor-file "\/bad.zone": .*line 1: bad digest/,
  );
  assert.throws(() => parse("/none.zone"), /no DS or DNSKEY record/);
  assert.throws(() => parse("/missing.zone"), /Cannot read --trust-anchor-file/);
});

Deno.test("--dnssec-insecure is repeatable, comma-separated in DOTPROXY_DNSSEC_INSECURE", () => {
  assert.deepEqual(run([]).dnssecInsecure, []);
  assert.deepEqual(
    run(["--dnssec-insecure", "Corp.Example.", "--dnssec-insecure", "lab.test"]).dnssecInsecure,
    ["corp.example", "lab.test"],
  );
  assert.deepEqual(run(["--dnssec-insecure", "."]).dnssecInsecure, ["."]);
  assert.deepEqual(
    run([], { DOTPROXY_DNSSEC_INSECURE: "corp.example, bench.test" }).dnssecInsecure,
    ["corp.example", "bench.test"],
  );
  assertConfigError(
    ["--dnssec-insecure", "a..b"],
    {},
    'Invalid --dnssec-insecure "a..b": Invalid zone "a..b": bad label ""',
  );
});
