import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "./config.ts";

function run(args: string[], env: Record<string, string> = {}) {
  const result = parseConfig(args, { env, isTerminal: false });
  assert(result.kind === "run");
  return result.config;
}

Deno.test("parseConfig() leaves the operations endpoint, lame duck and query log off by default", () => {
  const config = run([]);
  assert.equal(config.http, undefined);
  assert.equal(config.lameDuckMs, 0);
  assert.equal(config.logQueries, false);
  assert.equal(config.traceQueryNames, false);
});

Deno.test("parseConfig() reads --trace-query-names and DOTPROXY_TRACE_QUERY_NAMES", () => {
  assert.equal(run(["--trace-query-names"]).traceQueryNames, true);
  assert.equal(run([], { DOTPROXY_TRACE_QUERY_NAMES: "true" }).traceQueryNames, true);
  assert.equal(
    run(["--trace-query-names=false"], { DOTPROXY_TRACE_QUERY_NAMES: "true" }).traceQueryNames,
    false,
  );
});

Deno.test("parseConfig() reads --http, --lameduck and the --log-queries switch", () => {
  const config = run(["--http", "127.0.0.1:9153", "--lameduck", "5000", "--log-queries"]);
  assert.deepEqual(config.http, { hostname: "127.0.0.1", port: 9153 });
  assert.equal(config.lameDuckMs, 5000);
  assert.equal(config.logQueries, true);
  assert.deepEqual(run(["--http=[::]:9153"]).http, { hostname: "::", port: 9153 });
  assert.equal(run(["--log-queries=false"]).logQueries, false);
  assert.equal(run(["--log-queries", "--port", "53"]).port, 53, "a switch takes no value");
});

Deno.test("parseConfig() reads DOTPROXY_HTTP, DOTPROXY_LAMEDUCK and DOTPROXY_LOG_QUERIES", () => {
  const config = run([], {
    DOTPROXY_HTTP: "0.0.0.0:8080",
    DOTPROXY_LAMEDUCK: "250",
    DOTPROXY_LOG_QUERIES: "yes",
  });
  assert.deepEqual(config.http, { hostname: "0.0.0.0", port: 8080 });
  assert.equal(config.lameDuckMs, 250);
  assert.equal(config.logQueries, true);
  assert.equal(run(["--log-queries=false"], { DOTPROXY_LOG_QUERIES: "true" }).logQueries, false);
});

Deno.test("parseConfig() names the flag or variable of a bad operations value", () => {
  const cases: [string[], Record<string, string>, RegExp][] = [
    [["--http", "localhost:9153"], {}, /^Invalid --http "localhost:9153": expected ADDR:PORT/],
    [["--http", "127.0.0.1"], {}, /^Invalid --http "127\.0\.0\.1"/],
    [["--http", "127.0.0.1:70000"], {}, /^Invalid --http/],
    [["--lameduck", "-5"], {}, /--lameduck/],
    [[], { DOTPROXY_LOG_QUERIES: "maybe" }, /^Invalid DOTPROXY_LOG_QUERIES "maybe"/],
    [["--log-queries=sure"], {}, /^Invalid --log-queries "sure"/],
  ];
  for (const [args, env, message] of cases) {
    assert.throws(() => run(args, env), (error: Error) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, message);
      return true;
    });
  }
});
