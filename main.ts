/**
 * dotproxy: plain DNS in on UDP and TCP, DNS-over-TLS out.
 *
 * Entry point only: read the configuration, start the proxy, stop it on
 * SIGINT or SIGTERM.
 *
 * @module
 */

import { ConfigError, parseConfig } from "./src/config.ts";
import { getLogger, setupLogging, shutdownLogging } from "./src/log.ts";
import { startProxy } from "./src/proxy.ts";
import denoJson from "./deno.json" with { type: "json" };

const encoder = new TextEncoder();

function print(stream: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = encoder.encode(text.endsWith("\n") ? text : text + "\n");
  for (let written = 0; written < bytes.length;) {
    written += stream.writeSync(bytes.subarray(written));
  }
}

async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseConfig(args, { env: Deno.env.toObject(), isTerminal: Deno.stderr.isTerminal() });
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
  const { config } = parsed;
  await setupLogging(config.logLevel, config.logFormat);
  const log = getLogger();
  let proxy;
  try {
    proxy = startProxy(config);
  } catch (error) {
    log.error("{error}", { error: (error as Error).message });
    await shutdownLogging();
    return 1;
  }
  const signal = await waitForSignal();
  log.info("Received {signal}: finishing queries in flight", { signal });
  await proxy.shutdown();
  await shutdownLogging();
  return 0;
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
