import assert from "node:assert/strict";
import { type Config, ConfigError, parseConfig } from "./config.ts";
import { planReload, reloadConfig } from "./reload.ts";
import type { ReloadableOptions } from "./reload.ts";

function load(args: string[]): Config {
  const result = parseConfig(args, { env: {}, isTerminal: false });
  assert(result.kind === "run");
  return result.config;
}

Deno.test("planReload() finds no change between equal configurations", () => {
  const plan = planReload(load(["-p", "53"]), load(["--port=53"]));
  assert.deepEqual([plan.changed, plan.needRestart], [[], []]);
});

Deno.test("planReload() applies routing changes and keeps the settings that need a restart", () => {
  const running = load([]);
  const next = load([
    "--upstream=9.9.9.9#dns.quad9.net",
    "--forward-zone=corp.example=udp://10.8.0.1",
    "--upstream-policy=round-robin",
    "--builtin-zones=false",
    "--listen=0.0.0.0",
    "--cache-size=5",
    "--allow=10.0.0.0/8",
    "--http=127.0.0.1:9153",
  ]);
  const plan = planReload(running, next);
  assert.deepEqual(plan.changed, ["upstream", "forward-zone", "upstream-policy", "builtin-zones"]);
  assert.deepEqual(plan.needRestart, ["listen", "cache-size", "allow", "http"]);
  assert.deepEqual(plan.config, {
    ...running,
    upstreams: next.upstreams,
    forwardZones: next.forwardZones,
    upstreamPolicy: "round-robin",
    builtinZones: false,
  });
  assert(Object.isFrozen(plan.config));
});

Deno.test("planReload() names --ca-file once when the CA bundle changes", () => {
  const ca = (text: string) => {
    const result = parseConfig(["--ca-file", "/ca.pem"], {
      env: {},
      isTerminal: false,
      readTextFile: () => `-----BEGIN CERTIFICATE-----\n${text}\n-----END CERTIFICATE-----\n`,
    });
    assert(result.kind === "run");
    return result.config;
  };
  assert.deepEqual(planReload(ca("AAAA"), ca("BBBB")).needRestart, ["ca-file"]);
});

/** A reload target that records what was applied. */
function target(configFile: string | undefined, next: () => Config) {
  const applied: ReloadableOptions[] = [];
  return { applied, configFile, load: next, reload: (o: ReloadableOptions) => applied.push(o) };
}

Deno.test("reloadConfig() applies new upstreams and returns the configuration in use", () => {
  const running = load(["--port", "5353"]);
  const reloads = target("/f.yaml", () => load(["--port", "5353", "-u", "9.9.9.9"]));
  const after = reloadConfig(running, reloads);
  assert.deepEqual(after.upstreams.map((upstream) => upstream.label), ["9.9.9.9:853"]);
  assert.equal(reloads.applied.length, 1);
  assert.deepEqual(reloads.applied[0], {
    upstreams: after.upstreams,
    forwardZones: [],
    upstreamPolicy: "fastest",
    builtinZones: true,
  });
});

Deno.test("reloadConfig() keeps the running configuration when the new one is bad", () => {
  const running = load([]);
  const reloads = target("/f.yaml", () => {
    throw new ConfigError('Invalid config file key "port" = "x" in /f.yaml: expected an integer');
  });
  assert.equal(reloadConfig(running, reloads), running);
  assert.deepEqual(reloads.applied, []);
});

Deno.test("reloadConfig() applies nothing when only restart-bound settings changed", () => {
  const running = load([]);
  const reloads = target("/f.yaml", () => load(["--cache-size", "1"]));
  assert.equal(reloadConfig(running, reloads), running);
  assert.deepEqual(reloads.applied, []);
});

Deno.test("reloadConfig() without a config file reads nothing", () => {
  const running = load([]);
  const reloads = target(undefined, () => assert.fail("nothing to read"));
  assert.equal(reloadConfig(running, reloads), running);
  assert.deepEqual(reloads.applied, []);
});

Deno.test("reloadConfig() keeps the running configuration when applying fails", () => {
  const running = load([]);
  const reloads = {
    configFile: "/f.yaml",
    load: () => load(["-u", "9.9.9.9"]),
    reload: () => {
      throw new Error("boom");
    },
  };
  assert.equal(reloadConfig(running, reloads), running);
});
