/**
 * The composition root: binds the listeners, builds the upstreams, the
 * forwarder and the query handler, and hands them to the lifecycle
 * (lifecycle.ts), which shuts them down in order.
 *
 * @module
 */

import type { Config } from "./config/config.ts";
import { type LimitsConfig, resolveLimits } from "./config/limits.ts";
import type { ReloadableOptions } from "./config/reload.ts";
import type { Admission } from "./access/admission.ts";
import { type Frontends, startFrontends } from "./frontend/start_frontends.ts";
import { QueryHandler } from "./query_handler.ts";
import { DotUpstream, type DotUpstreamOptions } from "./upstream/dot_upstream.ts";
import { PlainUpstream } from "./upstream/plain_upstream.ts";
import type { Upstream } from "./upstream/upstream.ts";
import type { UpstreamPolicy } from "./upstream/upstream_group.ts";
import { Forwarder } from "./upstream/forwarder.ts";
import type { HedgeMode } from "./upstream/hedge_policy.ts";
import { type ForwardZoneConfig, Routing, type RoutingConfig } from "./routing/routing.ts";
import type { ForwardSpec } from "./upstream/upstream_spec.ts";
import { DnsCache } from "./cache/dns_cache.ts";
import type { AnswerCache } from "./cache/answer_cache.ts";
import { bindListeners } from "./frontend/bind_listeners.ts";
import { Resolver } from "./cache/resolver.ts";
import { routeChanged } from "./routing/router.ts";
import { ProxyMetrics } from "./observability/proxy_metrics.ts";
import type { HttpEndpoint } from "./observability/http_server.ts";
import { startOperations } from "./observability/start_operations.ts";
import { QueryTracer } from "./observability/query_tracer.ts";
import { getLogger } from "./log.ts";
import { createDnssecCheck } from "./dnssec/dnssec_setup.ts";
import type { WorkLimits } from "./dnssec/work_budget.ts";
import { Lifecycle } from "./lifecycle.ts";

const log = getLogger();

/** With the HTTP endpoint on, an upstream idle this long is probed (its health stays current). */
export const IDLE_PROBE_MS = 5_000;

/** What the proxy needs from the configuration, plus tuning knobs for tests. */
export type ProxyOptions =
  & Pick<Config, "listen" | "port" | "upstreams" | "caCerts" | "timeoutMs" | "maxUdpSize">
  & Partial<Pick<Config, "cacheSize" | "cacheMinTtl" | "cacheMaxTtl" | "staleTtl">>
  & Partial<Pick<Config, "dnssec" | "trustAnchorFile" | "dnssecInsecure">>
  & Partial<LimitsConfig>
  & {
    /** Bytes the cache may hold. @default {64 MiB} */
    readonly cacheMaxBytes?: number;
    /** Close idle client TCP connections after this long. @default {10000} */
    readonly tcpIdleTimeoutMs?: number;
    /** Per-upstream settings other than the address and CAs; these win over the limits. */
    readonly upstream?: Omit<DotUpstreamOptions, "spec" | "caCerts" | "metrics">;
    /** Serve /metrics, /healthz and /readyz here (`--http`); off when absent. */
    readonly http?: { readonly hostname: string; readonly port: number };
    /** Log one line per answered query (`--log-queries`). */
    readonly logQueries?: boolean;
    /** A span per query and per upstream attempt (Deno exports them: `OTEL_DENO=true`). */
    readonly tracing?: boolean;
    /** Query names on spans (`--trace-query-names`). @default {false} */
    readonly traceQueryNames?: boolean;
    /** Version reported in `dotproxy_build_info`. */
    readonly version?: string;
    /**
     * How often idle upstreams are probed: when absent, every
     * {@linkcode IDLE_PROBE_MS} if `http` is on, else never (a worker of
     * `--workers N` has no `http` of its own, so its supervisor sets this).
     */
    readonly idleProbeMs?: number;
    /** Split DNS: zones sent to other resolvers. @default {[]} */
    readonly forwardZones?: readonly ForwardZoneConfig[];
    /** How each group orders its upstreams. @default {"fastest"} */
    readonly upstreamPolicy?: UpstreamPolicy;
    /** Hedge slow queries to the next upstream (`--hedge`). @default {"auto"} */
    readonly hedge?: HedgeMode;
    /** Answer the built-in private zones locally. @default {true} */
    readonly builtinZones?: boolean;
    /** DNSSEC work limits per query (tests). @default {DEFAULT_WORK_LIMITS} */
    readonly dnssecLimits?: WorkLimits;
    /** A cache to use instead of a new one (a worker's view of the shared cache). */
    readonly sharedCache?: AnswerCache;
    /**
     * Bind with `SO_REUSEPORT` (UDP through libc, see reuse_port_udp.ts), so
     * that every worker listens on the same port. @default {false}
     */
    readonly reusePort?: boolean;
    /**
     * Take UDP through libc even on a port of its own (recvmmsg batches,
     * immediate answers sent together, see udp_frontend.ts): what the single
     * loop of `main.ts` does when `--allow-ffi` is granted. @default {false}
     */
    readonly libcUdp?: boolean;
    /** This worker's number, for the query log (`--workers N`). */
    readonly worker?: number;
  };

export type { ReloadableOptions } from "./config/reload.ts";

/** A running proxy. */
export interface RunningProxy extends AsyncDisposable {
  /** The port both UDP and TCP listen on (useful when 0 was asked for). */
  readonly port: number;
  /** The upstreams in use: the default ones in configured order, then the forward zones'. */
  readonly upstreams: readonly Upstream[];
  /** Access list and limits shared by the frontends, with their counters. */
  readonly admission: Admission;
  /** The answer cache, or null when it is off. */
  readonly cache: AnswerCache | null;
  /** Every metric of the proxy. */
  readonly metrics: ProxyMetrics;
  /** The operations endpoint, when `http` was given. */
  readonly http: HttpEndpoint | null;
  /** Turns /readyz to 503 (lame duck) while the proxy goes on serving. */
  enterLameDuck(): void;
  /**
   * Applies new upstreams and routes without dropping queries in flight or
   * the cache; upstreams no longer used are closed once their queries are done.
   */
  reload(options: ReloadableOptions): void;
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
 * The start-up story, one step each: resolve the limits, build the upstreams
 * and their routes, build the query handler (cache and resolver), bind the
 * listeners, start the frontends, start the operations endpoint.
 *
 * @param options What to listen on and where to forward.
 * @returns The running proxy.
 * @throws {Error} When a listener cannot be bound (one line naming the address).
 */
export function startProxy(options: ProxyOptions): RunningProxy {
  const limits = resolveLimits(options);
  const metrics = new ProxyMetrics(options.version ?? "dev");
  const routing = buildRouting(options, limits, metrics);
  const { handler, cache, resolver } = buildQueryHandler(options, routing, metrics);
  const listeners = bindListeners(options.listen, options.port, {
    reusePort: options.reusePort ?? false,
    libcUdp: options.libcUdp ?? false,
  });
  const frontends = startFrontends(listeners, handler, {
    limits,
    maxUdpSize: options.maxUdpSize,
  });
  metrics.watchAdmission(() => frontends.admission.counters);
  logStartup(options, frontends, listeners.port);
  const lifecycle = new Lifecycle(options.timeoutMs, routing, frontends);
  const http = options.http ? startOperations(options.http, metrics, routing, lifecycle) : null;
  lifecycle.onStopped(() => http?.shutdown());
  return {
    port: listeners.port,
    get upstreams() {
      return routing.upstreams;
    },
    admission: frontends.admission,
    cache,
    metrics,
    http,
    enterLameDuck: () => lifecycle.enterLameDuck(),
    reload: (next) => {
      const before = routing.router;
      lifecycle.reload(routingConfig(next));
      resolver.rerouted(routeChanged(before, routing.router));
    },
    shutdown: (graceMs) => lifecycle.shutdown(graceMs),
    [Symbol.asyncDispose]: () => lifecycle.shutdown(),
  };
}

/** The routing settings of a (re)load, defaults filled in. */
function routingConfig(options: ReloadableOptions): RoutingConfig {
  return {
    upstreams: options.upstreams,
    forwardZones: options.forwardZones ?? [],
    upstreamPolicy: options.upstreamPolicy ?? "fastest",
    builtinZones: options.builtinZones ?? true,
  };
}

/** Step 1: the upstreams (TLS or, for forward zones only, plaintext) and the routes to them. */
function buildRouting(options: ProxyOptions, limits: LimitsConfig, metrics: ProxyMetrics): Routing {
  const idleProbeMs = options.idleProbeMs ?? (options.http ? IDLE_PROBE_MS : undefined);
  const idleProbe = idleProbeMs === undefined ? {} : { idleProbeMs };
  const createUpstream = (spec: ForwardSpec): Upstream =>
    "plaintext" in spec
      ? new PlainUpstream({ spec, metrics: metrics.upstream(spec.label) })
      : new DotUpstream({
        maxConnections: limits.upstreamConnections,
        maxInFlightPerConnection: limits.upstreamMaxInFlight,
        ...idleProbe,
        ...options.upstream,
        spec,
        caCerts: options.caCerts,
        metrics: metrics.upstream(spec.label),
      });
  const routing = new Routing(routingConfig(options), createUpstream);
  metrics.watchUpstreams(() => routing.upstreams);
  return routing;
}

/** Step 2: the cache, the resolver in front of the forwarder, and the handler the frontends call. */
function buildQueryHandler(
  options: ProxyOptions,
  routing: Routing,
  metrics: ProxyMetrics,
): { handler: QueryHandler; cache: AnswerCache | null; resolver: Resolver } {
  const cacheSize = options.cacheSize ?? 10000;
  const cache = options.sharedCache ?? (cacheSize === 0 ? null : new DnsCache({
    maxEntries: cacheSize,
    maxBytes: options.cacheMaxBytes ?? 64 * 1024 * 1024,
    staleTtl: options.staleTtl ?? 86400,
  }));
  if (cache !== null) metrics.watchCache(cache);
  const bounds = { minTtl: options.cacheMinTtl ?? 0, maxTtl: options.cacheMaxTtl ?? 86400 };
  const router = () => routing.router;
  const validate = options.dnssec === "validate";
  const tracing = buildTracer(options);
  const forwarder = new Forwarder({
    timeoutMs: options.timeoutMs,
    dnssecOk: validate,
    hedge: options.hedge ?? "auto",
    ...tracing,
  });
  // The validator fetches DS and DNSKEY through the resolver, which is built after it.
  let resolver: Resolver | undefined = undefined;
  const check = validate
    ? createDnssecCheck({
      anchors: options.trustAnchorFile?.anchors ?? [],
      insecure: options.dnssecInsecure ?? [],
      resolver: () => resolver!,
      router,
      metrics,
      timeoutMs: options.timeoutMs,
      ...(options.dnssecLimits && { limits: options.dnssecLimits }),
    })
    : undefined;
  resolver = new Resolver({ forwarder, router, cache, bounds, metrics, ...(check && { check }) });
  const handler = new QueryHandler({
    resolver,
    router,
    maxUdpSize: options.maxUdpSize,
    metrics,
    logQueries: options.logQueries ?? false,
    ...(options.worker !== undefined && { worker: options.worker }),
    ...tracing,
  });
  return { handler, cache, resolver };
}

/** The tracer when tracing is on (as options to spread), else nothing: no tracer, no cost. */
function buildTracer(options: ProxyOptions): { tracing?: QueryTracer } {
  if (!options.tracing) return {};
  const queryNames = options.traceQueryNames ?? false;
  log.info("Tracing queries with OpenTelemetry (query names {names})", {
    names: queryNames ? "included" : "left out",
  });
  return { tracing: new QueryTracer({ version: options.version ?? "dev", queryNames }) };
}

/** Step 3 told: where the proxy listens and where it forwards. */
function logStartup(options: ProxyOptions, frontends: Frontends, port: number): void {
  for (const frontend of frontends.udp) {
    log.info("Listening on {address} port {port} (UDP and TCP)", {
      address: frontend.addr.hostname,
      port,
    });
  }
  if (options.dnssec === "validate") log.info("Validating DNSSEC");
  log.info("Forwarding over TLS to {upstreams}", {
    upstreams: options.upstreams.map((upstream) => upstream.label).join(", "),
  });
  for (const forward of options.forwardZones ?? []) {
    log.info("Forwarding {zone} to {upstreams}", {
      zone: forward.zone,
      upstreams: forward.upstreams.map((upstream) => upstream.label).join(", "),
    });
  }
}
