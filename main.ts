/**
 * dotproxy: plain DNS in on UDP and TCP, DNS-over-TLS out.
 *
 * Entry point only: read the configuration, start the proxy, reload the
 * `--config` file on SIGHUP, stop on SIGINT or SIGTERM; or run one of the
 * `healthcheck` and `check-config` subcommands.
 *
 * @module
 */

import {
  type Config,
  type ConfigEnvironment,
  ConfigError,
  parseConfig,
} from "./src/config/config.ts";
import { reloadConfig } from "./src/config/reload.ts";
import { checkHealthOfAll, healthcheckTargets } from "./src/healthcheck.ts";
import { getLogger, setupLogging, shutdownLogging } from "./src/log.ts";
import { startProxy } from "./src/proxy.ts";
import { canReusePortUdp } from "./src/frontend/reuse_port_udp.ts";
import { Supervisor } from "./src/workers/supervisor.ts";
import { resolveWorkers } from "./src/workers/worker_count.ts";
import { tracingEnabled } from "./src/observability/query_tracer.ts";
import { startHeapTrimmer } from "./src/observability/heap_trimmer.ts";
import denoJson from "./deno.json" with { type: "json" };

const encoder = new TextEncoder();

function print(stream: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = encoder.encode(text.endsWith("\n") ? text : text + "\n");
  for (let written = 0; written < bytes.length;) {
    written += stream.writeSync(bytes.subarray(written));
  }
}

const SUBCOMMANDS = ["healthcheck", "check-config"] as const;

async function main(args: string[]): Promise<number> {
  const command = SUBCOMMANDS.find((name) => name === args[0]) ?? "run";
  const options = command === "run" ? args : args.slice(1);
  // Read once: a reload sees the flags and variables the proxy started with.
  const environment = { env: Deno.env.toObject(), isTerminal: Deno.stderr.isTerminal() };
  let parsed;
  try {
    parsed = parseConfig(options, environment);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    print(Deno.stderr, `dotproxy: ${error.message}`);
    return 2;
  }
  if (parsed.kind === "help") {
    print(Deno.stdout, parsed.text);
    return 0;
  }
  if (parsed.kind === "version") {
    print(Deno.stdout, `dotproxy ${denoJson.version}`);
    return 0;
  }
  if (command === "healthcheck") return await healthcheck(parsed.config);
  if (command === "check-config") {
    print(Deno.stdout, "dotproxy: configuration OK");
    return 0;
  }
  return await serve(parsed.config, parsed.configFile, () => load(options, environment));
}

/** The configuration as `parseConfig` reads it now (for a reload: no help or version flag). */
function load(args: readonly string[], environment: ConfigEnvironment): Config {
  const result = parseConfig(args, environment);
  if (result.kind !== "run") throw new Error(`Cannot reload: unexpected ${result.kind} result`);
  return result.config;
}

/** `dotproxy healthcheck`: 0 when the running proxy answers on every listen address, 1 otherwise. */
async function healthcheck(config: Config): Promise<number> {
  const problem = await checkHealthOfAll(healthcheckTargets(config));
  if (problem === null) return 0;
  print(Deno.stderr, `dotproxy healthcheck: unhealthy: ${problem}`);
  return 1;
}

async function serve(
  config: Config,
  configFile: string | undefined,
  reread: () => Config,
): Promise<number> {
  await setupLogging(config.logLevel, config.logFormat, config.logQueries);
  const log = getLogger();
  // This thread's heap only; each worker starts its own (worker_main.ts).
  const heapTrimmer = startHeapTrimmer();
  // Listened for before starting: workers take a while, and the first may already be serving.
  // Listening for SIGHUP also replaces its default action, which is to exit, so a SIGHUP that
  // arrives while the workers start must find a listener too. The listener stays until the process
  // exits, so that a SIGHUP during the drain cannot kill it either.
  const signalled = waitForSignal();
  let proxy: Pick<Supervisor, "reload" | "enterLameDuck" | "shutdown"> | undefined;
  let running = config;
  let stopping = false;
  let reloadWhenStarted = false;
  const reload = () => {
    if (stopping) return log.info("Received SIGHUP while stopping: not reloading");
    if (proxy === undefined) {
      reloadWhenStarted = true;
      return log.info("Received SIGHUP while starting: reloading once started");
    }
    const started = proxy;
    running = reloadConfig(running, { configFile, load: reread, reload: (o) => started.reload(o) });
  };
  Deno.addSignalListener("SIGHUP", reload);
  try {
    // FFI granted on Linux: several workers can share the port, and one takes UDP through libc.
    const libcUdp = canReusePortUdp();
    const workers = resolveWorkers(config.workers, libcUdp);
    const tracing = tracingEnabled({ OTEL_DENO: Deno.env.get("OTEL_DENO") });
    if (workers > 1) {
      const supervisor = await Supervisor.start({
        config,
        workers,
        version: denoJson.version,
        tracing,
      });
      if (Deno.env.get("DOTPROXY_TEST_CONTROL") === "1") crashOnSignal(supervisor);
      proxy = supervisor;
    } else {
      const { http, ...rest } = config;
      proxy = startProxy({
        ...rest,
        version: denoJson.version,
        tracing,
        libcUdp,
        ...(http && { http }),
      });
    }
  } catch (error) {
    log.error("{error}", { error: (error as Error).message });
    heapTrimmer.stop();
    await shutdownLogging();
    return 1;
  }
  if (reloadWhenStarted) reload();
  const signal = await signalled;
  stopping = true;
  if (config.lameDuckMs > 0) {
    // Readiness turns 503 first, so that load balancers stop sending before
    // the listeners close (CoreDNS `health { lameduck }`).
    log.info("Received {signal}: lame duck for {ms} ms, then finishing queries in flight", {
      signal,
      ms: config.lameDuckMs,
    });
    proxy.enterLameDuck();
    await new Promise((resolve) => setTimeout(resolve, config.lameDuckMs));
  } else {
    log.info("Received {signal}: finishing queries in flight", { signal });
  }
  await proxy.shutdown();
  heapTrimmer.stop();
  await shutdownLogging();
  return 0;
}

/**
 * Test control (DOTPROXY_TEST_CONTROL=1): each SIGUSR1 ends the next worker
 * in turn with an uncaught exception, as a bug would.
 */
function crashOnSignal(supervisor: Supervisor): void {
  let next = 0;
  Deno.addSignalListener("SIGUSR1", () => supervisor.crash(next++ % supervisor.workers));
}

function waitForSignal(): Promise<Deno.Signal> {
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  return new Promise((resolve) => {
    const handlers = signals.map((signal) => {
      const handler = () => {
        handlers.forEach(([s, h]) => Deno.removeSignalListener(s, h));
        resolve(signal);
      };
      Deno.addSignalListener(signal, handler);
      return [signal, handler] as const;
    });
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
