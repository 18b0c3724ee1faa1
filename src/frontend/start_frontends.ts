/**
 * Starts the UDP and TCP frontends on bound listeners, all sharing one
 * {@linkcode Admission} (access list, rate limit, queries in flight) and
 * one {@linkcode TcpConnectionTable} (connection caps), so that the limits
 * hold for the whole proxy rather than per socket.
 *
 * @module
 */

import { Admission } from "../access/admission.ts";
import type { LimitsConfig } from "../config/limits.ts";
import type { QueryHandler } from "../query_handler.ts";
import { TcpConnectionTable } from "./tcp_connection_table.ts";
import { TcpFrontend } from "./tcp_frontend.ts";
import { UdpFrontend } from "./udp_frontend.ts";
import type { UdpSocket } from "./reuse_port_udp.ts";

/** The running frontends. */
export interface Frontends {
  /** One per UDP socket. */
  readonly udp: readonly UdpFrontend[];
  /** One per TCP listener. */
  readonly tcp: readonly TcpFrontend[];
  /** Shared admission checks, with their counters. */
  readonly admission: Admission;
  /**
   * Stops taking queries and waits for those in flight (at most `graceMs`).
   *
   * @param graceMs Longest wait.
   */
  drain(graceMs: number): Promise<void>;
}

/** What {@linkcode startFrontends} needs besides the listeners. */
export interface FrontendSettings {
  /** Access list and limits (`resolveLimits` fills in the defaults). */
  readonly limits: LimitsConfig;
  /** UDP size advertised in the answers the frontends write themselves. */
  readonly maxUdpSize: number;
}

/**
 * Starts serving on the listeners.
 *
 * @param listeners Bound UDP sockets and TCP listeners.
 * @param handler Answers each query.
 * @param settings Limits and UDP size.
 * @returns The frontends.
 */
export function startFrontends(
  listeners: {
    readonly udp: readonly UdpSocket[];
    readonly tcp: readonly Deno.TcpListener[];
  },
  handler: QueryHandler,
  settings: FrontendSettings,
): Frontends {
  const { limits, maxUdpSize } = settings;
  const admission = new Admission({
    allow: limits.allow,
    rateLimit: limits.rateLimit,
    rateLimitBurst: limits.rateLimitBurst,
    ipv4Prefix: limits.rateLimitIpv4Prefix,
    ipv6Prefix: limits.rateLimitIpv6Prefix,
    maxInFlight: limits.maxInFlight,
  });
  const connections = new TcpConnectionTable({
    maxConnections: limits.maxTcpConnections,
    maxPerClient: limits.maxTcpPerClient,
    onEvict: () => admission.count("tcpEvicted"),
  });
  const udp = listeners.udp.map((listener) =>
    new UdpFrontend(listener, handler, { admission, maxUdpSize })
  );
  const tcpOptions = { admission, connections, idleTimeoutMs: limits.tcpIdleTimeoutMs, maxUdpSize };
  const tcp = listeners.tcp.map((listener) => new TcpFrontend(listener, handler, tcpOptions));
  const drain = async (graceMs: number) => {
    await Promise.all([
      ...udp.map((frontend) => frontend.drain(graceMs)),
      ...tcp.map((frontend) => frontend.drain(graceMs)),
    ]);
  };
  return { udp, tcp, admission, drain };
}
