/**
 * main.ts running in a subprocess with JSON logs, its stderr read line by
 * line, for the end-to-end tests that need the real process: signals
 * (SIGHUP, SIGTERM), `--config` files and `--workers`.
 *
 * @module
 */

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** One JSON log line of the proxy, and when the test read it. */
export interface LogLine {
  readonly level: string;
  readonly message: string;
  readonly [field: string]: unknown;
  readonly readAt: number;
}

/** Options of {@linkcode ProxyProcess}. */
export interface ProxyProcessOptions {
  /** More flags for Deno (e.g. --allow-ffi, which more than one worker needs). */
  readonly runtimeFlags?: readonly string[];
  /** More environment variables. */
  readonly env?: Record<string, string>;
}

/** main.ts in a subprocess with JSON logs; dispose of it with {@linkcode ProxyProcess.stop}. */
export class ProxyProcess {
  readonly lines: LogLine[] = [];
  readonly #child: Deno.ChildProcess;
  readonly #reading: Promise<void>;

  /**
   * @param args The proxy's arguments.
   * @param options Deno flags and environment variables to add.
   */
  constructor(args: readonly string[], options: ProxyProcessOptions = {}) {
    const flags = options.runtimeFlags ?? [];
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net", "--allow-read", "--allow-env", ...flags, MAIN, ...args],
      env: { NO_COLOR: "1", DOTPROXY_LOG_FORMAT: "json", ...options.env },
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.#reading = this.#read();
  }

  kill(signal: Deno.Signal): void {
    this.#child.kill(signal);
  }

  /** Waits (bounded) for the first line from `after` on that matches. */
  async waitForLine(match: (line: LogLine) => boolean, after = 0, ms = 15_000): Promise<LogLine> {
    const deadline = Date.now() + ms;
    for (;;) {
      const line = this.lines.slice(after).find(match);
      if (line !== undefined) return line;
      if (Date.now() > deadline) {
        throw new Error(`no such log line within ${ms} ms:\n${this.#text()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Sends SIGTERM (unless the test signalled it already) and waits for the exit code. */
  async stop(signalled = false): Promise<number> {
    try {
      if (!signalled) this.#child.kill("SIGTERM");
    } catch {
      // already gone
    }
    const { code } = await this.#child.status;
    await this.#reading;
    return code;
  }

  #text(): string {
    return this.lines.map((line) => JSON.stringify(line)).join("\n");
  }

  async #read(): Promise<void> {
    let pending = "";
    for await (const chunk of this.#child.stderr.pipeThrough(new TextDecoderStream())) {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const text of lines) this.lines.push({ ...parseLine(text), readAt: performance.now() });
    }
  }
}

function parseLine(text: string): { level: string; message: string } {
  try {
    return JSON.parse(text);
  } catch {
    return { level: "not-json", message: text }; // e.g. a warning of Deno's own
  }
}
