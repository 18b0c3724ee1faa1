/**
 * A real upstream for end-to-end tests: an unbound process that serves local data only (never
 * recurses, never touches the network) over DNS-over-TLS and plain DNS on loopback.
 *
 * Data (zone `e2e.test.`, TTL 300; everything outside it is a local NXDOMAIN):
 * - `www.e2e.test` A 192.0.2.10, AAAA 2001:db8::10
 * - `mixed.e2e.test` A 192.0.2.11 (AAAA → NODATA)
 * - `alias.e2e.test` CNAME www.e2e.test. (unbound answers with the CNAME alone: it does not chase
 *   local-data CNAMEs)
 * - `big.e2e.test` 8 × TXT of 250 bytes (~2.1 KB answer: truncates over UDP)
 * - `<anything>.u.e2e.test` A 192.0.2.1 (redirect zone: every unique name resolves)
 * - any other name under `e2e.test` (e.g. `<x>.nx.e2e.test`) → NXDOMAIN with the zone's SOA
 *   (unbound caps its TTL to the SOA minimum, 60)
 *
 * @module
 */

import { requireTool, testdataPath } from "./tools.ts";

/** A running unbound; dispose (or {@linkcode UnboundServer.stop}) to stop it and clean up. */
export interface UnboundServer extends AsyncDisposable {
  /** DNS-over-TLS port on 127.0.0.1. */
  readonly dotPort: number;
  /** Plain DNS (UDP and TCP) port on 127.0.0.1. */
  readonly plainPort: number;
  /** Absolute path of the CA that signed unbound's certificate (tests/testdata/tls/ca.pem). */
  readonly caFile: string;
  /** The name unbound's certificate is issued for. */
  readonly tlsName: "dot.test";
  /** Stops unbound (SIGTERM, SIGKILL after 5 s) and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
  /** unbound's counters (`unbound-control stats_noreset`), e.g. `total.num.queries`. */
  stats(): Promise<Record<string, number>>;
}

/** Options for {@linkcode startUnbound}. */
export interface StartUnboundOptions {
  /**
   * Name used to verify unbound's certificate while waiting for it to be ready; it must be one the
   * certificate covers (`dot.test`, `127.0.0.1`, `::1`). Default `"dot.test"`.
   */
  tlsName?: string;
  /**
   * The end of the `server:` section in place of the local data above (e.g. stub zones towards
   * an authoritative server on loopback, for tests/_util/signed_hierarchy.ts).
   */
  data?: string;
}

const TLS_NAME = "dot.test";
const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const BIND_ATTEMPTS = 4;
const STDERR_KEEP = 16_384;

/** Starts unbound on two free loopback ports and resolves once its DoT port completes a handshake. */
export async function startUnbound(options: StartUnboundOptions = {}): Promise<UnboundServer> {
  const unbound = requireTool("unbound");
  const control = requireTool("unbound-control");
  const caFile = testdataPath("tls", "ca.pem");
  const caCert = await Deno.readTextFile(caFile);
  const readyName = options.tlsName ?? TLS_NAME;
  let lastError: unknown;
  for (let attempt = 1; attempt <= BIND_ATTEMPTS; attempt++) {
    const dir = await Deno.makeTempDir({ prefix: "dotproxy-unbound-" });
    const dotPort = freePort();
    let plainPort = freePort();
    while (plainPort === dotPort) plainPort = freePort();
    const confFile = `${dir}/unbound.conf`;
    const data = options.data;
    await Deno.writeTextFile(
      confFile,
      unboundConfig({ dir, dotPort, plainPort, ...(data !== undefined && { data }) }),
    );
    const proc = new UnboundProcess(unbound, confFile, dir);
    try {
      await proc.waitReady(dotPort, readyName, caCert);
    } catch (error) {
      await proc.stop();
      lastError = error;
      // Ports are picked by bind-then-close, so another process can grab one in between: that
      // (and only that) is worth another try on fresh ports.
      if (error instanceof BindError) continue;
      throw error;
    }
    return {
      dotPort,
      plainPort,
      caFile,
      tlsName: TLS_NAME,
      stop: () => proc.stop(),
      stats: () => readStats(control, confFile),
      [Symbol.asyncDispose]: () => proc.stop(),
    };
  }
  throw lastError;
}

/** unbound.conf contents for one instance; exported so a test can run `unbound-checkconf` on it. */
export function unboundConfig(
  params: { dir: string; dotPort: number; plainPort: number; data?: string },
): string {
  const { dir, dotPort, plainPort } = params;
  const txt = Array.from({ length: 8 }, (_, i) => `${i + 1}${"x".repeat(249)}`)
    .map((s) => `  local-data: 'big.e2e.test. 300 IN TXT "${s}"'`)
    .join("\n");
  return `server:
  verbosity: 1
  use-syslog: no
  logfile: ""
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "${dir}"
  pidfile: ""
  num-threads: 1
  interface: 127.0.0.1@${plainPort}
  interface: 127.0.0.1@${dotPort}
  tls-port: ${dotPort}
  tls-service-key: "${testdataPath("tls", "server.key")}"
  tls-service-pem: "${testdataPath("tls", "server.pem")}"
  do-ip6: no
  # Without this unbound binds with SO_REUSEPORT and can silently share a port another socket
  # holds, instead of failing so that we retry on other ports.
  so-reuseport: no
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  max-udp-size: 1232
  edns-buffer-size: 1232
  extended-statistics: yes
${params.data ?? localData(txt)}
remote-control:
  control-enable: yes
  control-interface: "${dir}/control.sock"
  control-use-cert: no
`;
}

/** The local data every test but the DNSSEC ones uses (see the module documentation). */
function localData(txt: string): string {
  return `  # Local data only: "." is a static local zone, so nothing is ever recursed.
  local-zone: "test." nodefault
  local-zone: "." static
  local-zone: "e2e.test." static
  local-data: "e2e.test. 300 IN SOA ns.e2e.test. admin.e2e.test. 1 3600 600 86400 60"
  local-data: "e2e.test. 300 IN NS ns.e2e.test."
  local-data: "ns.e2e.test. 300 IN A 192.0.2.53"
  local-data: "www.e2e.test. 300 IN A 192.0.2.10"
  local-data: "www.e2e.test. 300 IN AAAA 2001:db8::10"
  local-data: "mixed.e2e.test. 300 IN A 192.0.2.11"
  local-data: "alias.e2e.test. 300 IN CNAME www.e2e.test."
${txt}
  local-zone: "u.e2e.test." redirect
  local-data: "u.e2e.test. 300 IN A 192.0.2.1"
`;
}

class BindError extends Error {}

/** One unbound child process with its stderr drained into a bounded buffer. */
class UnboundProcess {
  #child: Deno.ChildProcess;
  #dir: string;
  #stderr = "";
  #stderrDone: Promise<void>;
  #exited = false;
  #status: Promise<Deno.CommandStatus>;
  #stopping: Promise<void> | undefined;

  constructor(unbound: string, confFile: string, dir: string) {
    this.#dir = dir;
    this.#child = new Deno.Command(unbound, {
      args: ["-d", "-c", confFile],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.#status = this.#child.status.then((status) => {
      this.#exited = true;
      return status;
    });
    this.#stderrDone = this.#drainStderr();
  }

  // Draining stops the pipe from filling up (which would block unbound) and keeps the tail for
  // error messages.
  async #drainStderr(): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of this.#child.stderr) {
      this.#stderr = (this.#stderr + decoder.decode(chunk, { stream: true })).slice(-STDERR_KEEP);
    }
  }

  async waitReady(port: number, hostname: string, caCert: string): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let lastError = "";
    while (Date.now() < deadline) {
      if (this.#exited) {
        const { code } = await this.#status;
        await this.#stderrDone;
        const message = `unbound exited with code ${code} before it was ready:\n${this.#stderr}`;
        throw /can't bind|address already in use/i.test(this.#stderr)
          ? new BindError(message)
          : new Error(message);
      }
      try {
        await tlsHandshake(port, hostname, caCert);
        return;
      } catch (error) {
        lastError = error instanceof Error ? error.message : String(error);
        // A certificate error will not fix itself by waiting.
        if (/certificate|UnknownIssuer/i.test(lastError)) {
          throw new Error(`unbound's certificate was rejected: ${lastError}\n${this.#stderr}`);
        }
      }
      await delay(50);
    }
    throw new Error(
      `unbound not ready on 127.0.0.1:${port} after ${READY_TIMEOUT_MS} ms (${lastError}):\n` +
        this.#stderr,
    );
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    if (!this.#exited) {
      this.#child.kill("SIGTERM");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = await Promise.race([
        this.#status.then(() => false),
        new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(true), STOP_TIMEOUT_MS)),
      ]);
      clearTimeout(timer);
      if (timedOut && !this.#exited) this.#child.kill("SIGKILL");
    }
    await this.#status;
    await this.#stderrDone;
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }
}

async function tlsHandshake(port: number, hostname: string, caCert: string): Promise<void> {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  let tls: Deno.TlsConn;
  try {
    tls = await Deno.startTls(tcp, { hostname, caCerts: [caCert] });
  } catch (error) {
    tcp.close();
    throw error;
  }
  try {
    await tls.handshake();
  } finally {
    tls.close();
  }
}

async function readStats(control: string, confFile: string): Promise<Record<string, number>> {
  const out = await new Deno.Command(control, {
    args: ["-c", confFile, "stats_noreset"],
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `unbound-control stats_noreset failed (${out.code}): ${text}${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  }
  const stats: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    const value = Number(line.slice(eq + 1));
    if (!Number.isNaN(value)) stats[line.slice(0, eq)] = value;
  }
  return stats;
}

/** A port that was free on 127.0.0.1 for both TCP and UDP a moment ago. */
export function freePort(): number {
  for (let attempt = 0; attempt < 20; attempt++) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { port } = listener.addr;
    try {
      // The plain port needs UDP too, so reject ports whose UDP twin is taken.
      Deno.listenDatagram({ hostname: "127.0.0.1", port, transport: "udp" }).close();
      return port;
    } catch (error) {
      if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    } finally {
      listener.close();
    }
  }
  throw new Error("no free TCP+UDP port pair found on 127.0.0.1");
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
