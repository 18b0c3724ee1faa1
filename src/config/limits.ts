/**
 * Settings that protect the proxy and others from abuse: who may query it,
 * how fast, and how much of each resource it gives out. Declared here and
 * merged into the settings table of `config.ts`.
 *
 * @module
 */

import { DEFAULT_ALLOW } from "../access/access_list.ts";
import { type Cidr, parseCidr } from "../access/cidr.ts";
import { integer, list, parseRange, single } from "./setting.ts";

/** Access control and resource limits (see docs/security.md). */
export interface LimitsConfig {
  /** Client ranges admitted; others get no answer over UDP and REFUSED over TCP. */
  readonly allow: readonly Cidr[];
  /** Queries per second per client; 0 turns rate limiting off. */
  readonly rateLimit: number;
  /** Queries a client may send at once; 0 means the same as `rateLimit`. */
  readonly rateLimitBurst: number;
  /** Bits of an IPv4 address that identify one client for the rate limit and TCP caps. */
  readonly rateLimitIpv4Prefix: number;
  /** Bits of an IPv6 address that identify one client for the rate limit and TCP caps. */
  readonly rateLimitIpv6Prefix: number;
  /** Client queries in flight at most, over UDP and TCP; more get REFUSED. */
  readonly maxInFlight: number;
  /** Client TCP connections open at most. */
  readonly maxTcpConnections: number;
  /** Client TCP connections open at most per client. */
  readonly maxTcpPerClient: number;
  /** Close a client TCP connection idle (or stalled mid-message) this long, in milliseconds. */
  readonly tcpIdleTimeoutMs: number;
  /** TLS connections per upstream at most. */
  readonly upstreamConnections: number;
  /** Queries in flight per upstream TLS connection at most. */
  readonly upstreamMaxInFlight: number;
}

/** Defaults of {@linkcode LimitsConfig}, also used by `startProxy` for options left out. */
export const DEFAULT_LIMITS: LimitsConfig = Object.freeze({
  allow: Object.freeze(DEFAULT_ALLOW.map(parseCidr)),
  rateLimit: 0,
  rateLimitBurst: 0,
  rateLimitIpv4Prefix: 32,
  rateLimitIpv6Prefix: 64,
  // One upstream's default capacity is 2 connections × 512 queries: stay
  // below it, so that local overload is refused here instead of failing
  // upstream exchanges (which would count against the upstream's health).
  maxInFlight: 1000,
  maxTcpConnections: 1000,
  maxTcpPerClient: 20,
  tcpIdleTimeoutMs: 10000,
  upstreamConnections: 2,
  upstreamMaxInFlight: 512,
});

/** The settings of {@linkcode LimitsConfig}, for the table in `config.ts`. */
export const LIMIT_SETTINGS = {
  allow: list<Cidr>({
    flag: "allow",
    env: ["DOTPROXY_ALLOW"],
    parse: parseRange,
    default: () => DEFAULT_LIMITS.allow,
  }),
  rateLimit: single<number>({
    flag: "rate-limit",
    env: ["DOTPROXY_RATE_LIMIT"],
    parse: integer(0, 1_000_000),
    default: () => DEFAULT_LIMITS.rateLimit,
  }),
  rateLimitBurst: single<number>({
    flag: "rate-limit-burst",
    env: ["DOTPROXY_RATE_LIMIT_BURST"],
    parse: integer(0, 1_000_000),
    default: () => DEFAULT_LIMITS.rateLimitBurst,
  }),
  rateLimitIpv4Prefix: single<number>({
    flag: "rate-limit-ipv4-prefix",
    env: ["DOTPROXY_RATE_LIMIT_IPV4_PREFIX"],
    parse: integer(8, 32),
    default: () => DEFAULT_LIMITS.rateLimitIpv4Prefix,
  }),
  rateLimitIpv6Prefix: single<number>({
    flag: "rate-limit-ipv6-prefix",
    env: ["DOTPROXY_RATE_LIMIT_IPV6_PREFIX"],
    parse: integer(16, 128),
    default: () => DEFAULT_LIMITS.rateLimitIpv6Prefix,
  }),
  maxInFlight: single<number>({
    flag: "max-in-flight",
    env: ["DOTPROXY_MAX_IN_FLIGHT"],
    parse: integer(1, 1_000_000),
    default: () => DEFAULT_LIMITS.maxInFlight,
  }),
  maxTcpConnections: single<number>({
    flag: "max-tcp-connections",
    env: ["DOTPROXY_MAX_TCP_CONNECTIONS"],
    parse: integer(1, 1_000_000),
    default: () => DEFAULT_LIMITS.maxTcpConnections,
  }),
  maxTcpPerClient: single<number>({
    flag: "max-tcp-per-client",
    env: ["DOTPROXY_MAX_TCP_PER_CLIENT"],
    parse: integer(1, 1_000_000),
    default: () => DEFAULT_LIMITS.maxTcpPerClient,
  }),
  tcpIdleTimeoutMs: single<number>({
    flag: "tcp-idle-timeout",
    env: ["DOTPROXY_TCP_IDLE_TIMEOUT"],
    parse: integer(100, 600_000),
    default: () => DEFAULT_LIMITS.tcpIdleTimeoutMs,
  }),
  upstreamConnections: single<number>({
    flag: "upstream-connections",
    env: ["DOTPROXY_UPSTREAM_CONNECTIONS"],
    parse: integer(1, 64),
    default: () => DEFAULT_LIMITS.upstreamConnections,
  }),
  upstreamMaxInFlight: single<number>({
    flag: "upstream-max-inflight",
    env: ["DOTPROXY_UPSTREAM_MAX_INFLIGHT"],
    parse: integer(1, 65535),
    default: () => DEFAULT_LIMITS.upstreamMaxInFlight,
  }),
};

/**
 * The limits among `options`, with defaults for those left out.
 *
 * @param options Any options holding some of the limits (e.g. a whole `Config`).
 * @returns Every limit.
 */
export function resolveLimits(options: Partial<LimitsConfig>): LimitsConfig {
  const resolved: Record<string, unknown> = {};
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof LimitsConfig)[]) {
    resolved[key] = options[key] ?? DEFAULT_LIMITS[key];
  }
  return resolved as unknown as LimitsConfig;
}
