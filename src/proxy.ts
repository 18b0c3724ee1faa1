/**
 * The composition root: binds the listeners, builds the upstreams, the
 * forwarder and the query handler, and shuts them down in order.
 *
 * @module
 */

import type { Config } from "./config.ts";
import { UdpFrontend } from "./frontend/udp_frontend.ts";
import { TcpFrontend } from "./frontend/tcp_frontend.ts";
import { QueryHandler } from "./query_handler.ts";
import { DotUpstream, type DotUpstreamOptions } from "./upstream/dot_upstream.ts";
import { Forwarder } from "./upstream/forwarder.ts";
import { DnsCache } from "./cache/dns_cache.ts";
import { Resolver } from "./cache/resolver.ts";
import { getLogger } from "./log.ts";

const log = getLogger();

/** What the proxy needs from the configuration, plus tuning knobs for tests. */
export type ProxyOptions =
  & Pick<Config, "listen" | "port" | "upstreams" | "caCerts" | "timeoutMs" | "maxUdpSize">
  & Partial<Pick<Config, "cacheSize" | "cacheMinTtl" | "cacheMaxTtl" | "staleTtl">>
  & {
    /** Bytes the cache may hold. @default {64 MiB} */
    readonly cacheMaxBytes?: number;
    /** Close idle client TCP connections after this long. @default {10000} */
    readonly tcpIdleTimeoutMs?: number;
    /** Per-upstream settings other than the address and CAs. */
    readonly upstream?: Omit<DotUpstreamOptions, "spec" | "caCerts">;
  };

/** A running proxy. */
export interface RunningProxy extends AsyncDisposable {
  /** The port both UDP and TCP listen on (useful when 0 was asked for). */
  readonly port: number;
  /** The upstreams, in configured order. */
  readonly upstreams: readonly DotUpstream[];
  /** The answer cache, or null when it is off. */
  readonly cache: DnsCache | null;
  /**
   * Stops taking queries, finishes those in flight (at most `graceMs`),
   * closes upstream connections.
   */
  shutdown(graceMs?: number): Promise<void>;
}

/**
 * Starts the proxy: listens on UDP and TCP on every address and forwards
 * over TLS. Upstreams are contacted on demand, so the proxy starts serving
 * even when none of them is reachable.
 *
 * @param options What to listen on and where to forward.
 * @returns The running proxy.
 * @throws {Error} When a listener cannot be bound (one line naming the address).
 */
export function startProxy(options: ProxyOptions): RunningProxy {
  const upstreams = options.upstreams.map((spec) =>
    new DotUpstream({ ...options.upstream, spec, caCerts: options.caCerts })
  );
  const forwarder = new Forwarder({ upstreams, timeoutMs: options.timeoutMs });
  const cacheSize = options.cacheSize ?? 10000;
  const cache = cacheSize === 0 ? null : new DnsCache({
    maxEntries: cacheSize,
    maxBytes: options.cacheMaxBytes ?? 64 * 1024 * 1024,
    staleTtl: options.staleTtl ?? 86400,
  });
  const bounds = { minTtl: options.cacheMinTtl ?? 0, maxTtl: options.cacheMaxTtl ?? 86400 };
  const resolver = new Resolver({ forwarder, cache, bounds });
  const handler = new QueryHandler({ resolver, maxUdpSize: options.maxUdpSize });
  const { udp, tcp, port } = bindListeners(options.listen, options.port);
  const udpFrontends = udp.map((listener) => new UdpFrontend(listener, handler));
  const tcpOptions = { idleTimeoutMs: options.tcpIdleTimeoutMs ?? 10000 };
  const tcpFrontends = tcp.map((listener) => new TcpFrontend(listener, handler, tcpOptions));
  for (const frontend of udpFrontends) {
    log.info("Listening on {address} port {port} (UDP and TCP)", {
      address: frontend.addr.hostname,
      port,
    });
  }
  log.info("Forwarding over TLS to {upstreams}", {
    upstreams: upstreams.map((upstream) => upstream.label).join(", "),
  });

  let stopping: Promise<void> | null = null;
  const shutdown = (graceMs = options.timeoutMs + 1000) =>
    stopping ??= (async () => {
      await Promise.all([
        ...udpFrontends.map((frontend) => frontend.drain(graceMs)),
        ...tcpFrontends.map((frontend) => frontend.drain(graceMs)),
      ]);
      await Promise.all(upstreams.map((upstream) => upstream.close()));
      log.info("Stopped");
    })();
  return { port, upstreams, cache, shutdown, [Symbol.asyncDispose]: () => shutdown() };
}

interface Listeners {
  readonly udp: Deno.DatagramConn[];
  readonly tcp: Deno.TcpListener[];
  readonly port: number;
}

/**
 * Binds UDP and TCP on the same port on every address. With port 0 the
 * first TCP listener picks the port and the rest follow it; if that port is
 * taken for UDP, another is tried.
 */
function bindListeners(addresses: readonly string[], port: number): Listeners {
  for (let attempt = 1;; attempt++) {
    const udp: Deno.DatagramConn[] = [];
    const tcp: Deno.TcpListener[] = [];
    let chosen = port;
    try {
      for (const hostname of addresses) {
        tcp.push(listen(() => Deno.listen({ hostname, port: chosen }), hostname, chosen, "TCP"));
        if (chosen === 0) chosen = tcp[0]!.addr.port;
        udp.push(listen(
          () => Deno.listenDatagram({ hostname, port: chosen, transport: "udp" }),
          hostname,
          chosen,
          "UDP",
        ));
      }
      return { udp, tcp, port: chosen };
    } catch (error) {
      for (const listener of [...udp, ...tcp]) listener.close();
      const retry = port === 0 && attempt < 10 &&
        (error as Error).cause instanceof Deno.errors.AddrInUse;
      if (!retry) throw error;
    }
  }
}

function listen<T>(bind: () => T, hostname: string, port: number, transport: string): T {
  try {
    return bind();
  } catch (error) {
    const where = hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
    throw new Error(`Cannot listen on ${where} (${transport}): ${(error as Error).message}`, {
      cause: error,
    });
  }
}
