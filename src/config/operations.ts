/**
 * Settings for running the proxy as infrastructure: the operations HTTP
 * endpoint, the lame-duck period and the query log. Declared here and
 * merged into the settings table of `config.ts`.
 *
 * @module
 */

import { isIP } from "node:net";
import { boolean, ConfigError, integer, type Parser, single } from "./setting.ts";

/** Where the operations endpoint listens. */
export interface HttpAddress {
  readonly hostname: string;
  readonly port: number;
}

/** Operations settings (see README, "Operate it"). */
export interface OperationsConfig {
  /** Serve /metrics, /healthz and /readyz here; undefined = off. */
  readonly http: HttpAddress | undefined;
  /** After SIGTERM, keep serving this long with /readyz 503, in milliseconds. */
  readonly lameDuckMs: number;
  /** Log one line per answered query. */
  readonly logQueries: boolean;
  /** Threads that serve queries (`--workers N`); 0 = as many as the CPUs the process may use. */
  readonly workers: number;
  /** Put query names on OpenTelemetry spans. */
  readonly traceQueryNames: boolean;
}

/**
 * Parses `ADDR:PORT` (IPv6 as `[ADDR]:PORT`).
 *
 * @param raw The value.
 * @param source The flag or variable, for errors.
 * @returns The address.
 */
export const parseHttpAddress: Parser<HttpAddress | undefined> = (raw, source) => {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(raw);
  const hostname = match?.[1] ?? match?.[2] ?? "";
  const port = match ? Number(match[3]) : NaN;
  if (isIP(hostname) === 0 || !(port >= 0 && port <= 65535)) {
    throw new ConfigError(
      `Invalid ${source} "${raw}": expected ADDR:PORT, e.g. 127.0.0.1:9153 or [::1]:9153`,
    );
  }
  return { hostname, port };
};

/** The settings of {@linkcode OperationsConfig}, for the table in `config.ts`. */
export const OPERATIONS_SETTINGS = {
  http: single<HttpAddress | undefined>({
    flag: "http",
    env: ["DOTPROXY_HTTP"],
    parse: parseHttpAddress,
    default: () => undefined,
  }),
  lameDuckMs: single<number>({
    flag: "lameduck",
    env: ["DOTPROXY_LAMEDUCK"],
    parse: integer(0, 600000),
    default: () => 0,
  }),
  logQueries: single<boolean>({
    flag: "log-queries",
    boolean: true,
    env: ["DOTPROXY_LOG_QUERIES"],
    parse: boolean,
    default: () => false,
  }),
  workers: single<number>({
    flag: "workers",
    env: ["DOTPROXY_WORKERS"],
    parse: (raw, source, context) => raw === "auto" ? 0 : integer(1, 256)(raw, source, context),
    default: () => 0,
  }),
  traceQueryNames: single<boolean>({
    flag: "trace-query-names",
    boolean: true,
    env: ["DOTPROXY_TRACE_QUERY_NAMES"],
    parse: boolean,
    default: () => false,
  }),
};
