/**
 * Runs `main.ts` as users run the command: a fresh environment holding only
 * what the test gives, output captured.
 *
 * @module
 */

import { buildQuery, udpQuery } from "./dns_client.ts";
import { repoPath, taskWords } from "./packaging_sources.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/**
 * The flags of `deno task start` (lockfile, permissions, V8 settings): those before main.ts, the
 * lockfile made absolute so that tests run from any directory.
 */
const START_FLAGS: readonly string[] = (() => {
  const words = taskWords("start");
  return words.slice(words.indexOf("run") + 1, words.indexOf("main.ts"))
    .map((word) => word === "--lock=deno.lock" ? `--lock=${repoPath("deno.lock")}` : word);
})();

/**
 * The command `dotproxy ARGS` with the runtime flags of `deno task start`.
 *
 * @param args Arguments after the program name.
 * @param env The whole environment (NO_COLOR is added).
 * @returns The command, to `output()` or `spawn()`.
 */
export function dotproxy(args: string[], env: Record<string, string> = {}): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...START_FLAGS, MAIN, ...args],
    env: { NO_COLOR: "1", ...env },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/**
 * The arguments of a proxy on 127.0.0.1:`port` forwarding to one loopback
 * DoT upstream whose certificate the committed test CA (or `caFile`) signs.
 *
 * @param port Listen port.
 * @param upstreamPort The upstream's DoT port.
 * @param caFile PEM file of the CA to trust.
 * @param tlsName The name the upstream's certificate carries.
 * @returns The arguments.
 */
export function forwardingArgs(
  port: number,
  upstreamPort: number,
  caFile: string,
  tlsName = "dot.test",
): string[] {
  return [
    ...["--port", String(port)],
    ...["--upstream", `127.0.0.1:${upstreamPort}#${tlsName}`],
    ...["--ca-file", caFile],
  ];
}

/**
 * Runs `dotproxy ARGS` to completion.
 *
 * @returns Exit code and the decoded output.
 */
export async function runDotproxy(args: string[], env: Record<string, string> = {}) {
  const { code, stdout, stderr } = await dotproxy(args, env).output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/**
 * Waits until a proxy started as a subprocess answers over UDP (bounded: about 10 s).
 *
 * @param port Its port on 127.0.0.1.
 * @returns Whether it answered.
 */
export async function waitUntilAnswering(port: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    const answered = await udpQuery(port, buildQuery("ready.example.test", "A"), { timeoutMs: 100 })
      .then(() => true, () => false);
    if (answered) return true;
  }
  return false;
}
