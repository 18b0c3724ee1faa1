/**
 * The metrics dotproxy exports, named after CoreDNS's where they mean the
 * same (`coredns_dns_requests_total` → `dotproxy_dns_requests_total`,
 * `coredns_proxy_request_duration_seconds` →
 * `dotproxy_upstream_request_duration_seconds`...) so that dashboards
 * translate. Counters are counted as things happen; gauges are read from the
 * proxy's own state when scraped.
 *
 * @module
 */

import type { AdmissionCounters } from "../access/admission.ts";
import type { AnswerCache } from "../cache/answer_cache.ts";
import type { Upstream, UpstreamSeries } from "../upstream/upstream.ts";
import { Counter, Gauge, Histogram, Registry } from "./metrics_registry.ts";

/** Bucket bounds for DNS latencies, in seconds (250 µs to about 8 s, doubling). */
const DURATION_BUCKETS = [
  0.00025,
  0.0005,
  0.001,
  0.002,
  0.004,
  0.008,
  0.016,
  0.032,
  0.064,
  0.128,
  0.256,
  0.512,
  1.024,
  2.048,
  4.096,
  8.192,
];

const TYPE_NAMES = new Map<number, string>([
  [1, "A"],
  [2, "NS"],
  [5, "CNAME"],
  [6, "SOA"],
  [12, "PTR"],
  [15, "MX"],
  [16, "TXT"],
  [28, "AAAA"],
  [33, "SRV"],
  [35, "NAPTR"],
  [43, "DS"],
  [48, "DNSKEY"],
  [64, "SVCB"],
  [65, "HTTPS"],
  [255, "ANY"],
  [257, "CAA"],
]);

const RCODE_NAMES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"];

/** Name of a query type for labels; uncommon types are "other" to bound the series. */
export function typeName(qtype: number): string {
  return TYPE_NAMES.get(qtype) ?? "other";
}

/** Name of a response code for labels. */
export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? (rcode === 16 ? "BADVERS" : String(rcode));
}

/** Every metric of the proxy. */
export class ProxyMetrics {
  /** Renders them all. */
  readonly registry: Registry = new Registry();
  readonly #requests = this.registry.register(
    new Counter("dotproxy_dns_requests_total", "DNS queries received.", ["proto", "type"]),
  );
  readonly #responses = this.registry.register(
    new Counter("dotproxy_dns_responses_total", "DNS responses sent.", [
      "proto",
      "rcode",
      "source",
    ]),
  );
  readonly #duration = this.registry.register(
    new Histogram(
      "dotproxy_dns_request_duration_seconds",
      "Time from a query's arrival to its response.",
      ["proto"],
      DURATION_BUCKETS,
    ),
  );
  readonly #rejected = this.registry.register(
    new Counter(
      "dotproxy_dns_rejected_total",
      "Queries dropped or refused without asking an upstream, by action and reason.",
      ["action", "reason"],
    ),
  );
  readonly #cache = this.registry.register(
    new Counter("dotproxy_cache_requests_total", "Cache lookups by result.", ["result"]),
  );
  readonly #dnssecAnswers = this.registry.register(
    new Counter(
      "dotproxy_dnssec_answers_total",
      "Responses by DNSSEC validation state (with --dnssec validate; unchecked: the client set CD).",
      ["state"],
    ),
  );
  readonly #dnssecBogus = this.registry.register(
    new Counter(
      "dotproxy_dnssec_bogus_total",
      "Upstream replies that failed DNSSEC validation, by reason (the Extended DNS Error).",
      ["reason"],
    ),
  );
  readonly #upstreamSent = this.registry.register(
    new Counter("dotproxy_upstream_requests_total", "Queries sent to an upstream.", ["to"]),
  );
  readonly #upstreamFailures = this.registry.register(
    new Counter(
      "dotproxy_upstream_failures_total",
      "Failed exchanges with an upstream, by reason.",
      ["to", "reason"],
    ),
  );
  readonly #upstreamDuration = this.registry.register(
    new Histogram(
      "dotproxy_upstream_request_duration_seconds",
      "Time from sending a query upstream to its answer.",
      ["to"],
      DURATION_BUCKETS,
    ),
  );
  readonly #opened = this.registry.register(
    new Counter(
      "dotproxy_upstream_tls_connections_opened_total",
      "TLS connections opened to an upstream.",
      ["to"],
    ),
  );
  readonly #pinMismatches = this.registry.register(
    new Counter(
      "dotproxy_upstream_pin_mismatches_total",
      "TLS connections to an upstream closed unused: the server's key matched no pin-sha256.",
      ["to"],
    ),
  );
  readonly #forged = this.registry.register(
    new Counter(
      "dotproxy_upstream_forged_replies_total",
      "Plaintext UDP replies dropped because their source, ID or question matched no query " +
        "sent (forged, or stray); the real answer is still awaited (RFC 5452).",
      ["to"],
    ),
  );
  readonly #hedges = this.registry.register(
    new Counter(
      "dotproxy_upstream_hedges_total",
      "Hedged queries: sent to this upstream too because another had not answered in time.",
      ["to"],
    ),
  );
  readonly #hedgeWins = this.registry.register(
    new Counter(
      "dotproxy_upstream_hedge_wins_total",
      "Hedged queries this upstream answered first.",
      ["to"],
    ),
  );
  readonly #resends = this.registry.register(
    new Counter(
      "dotproxy_upstream_resends_total",
      "Queries sent again on a fresh connection after the upstream closed one under them.",
      ["to"],
    ),
  );
  readonly #upstreamSeries = memoized((to: string): UpstreamSeries => ({
    sent: this.#upstreamSent.with(to),
    duration: this.#upstreamDuration.with(to),
    opened: this.#opened.with(to),
    pinMismatch: this.#pinMismatches.with(to),
    forged: this.#forged.with(to),
    hedged: this.#hedges.with(to),
    hedgeWon: this.#hedgeWins.with(to),
    resent: this.#resends.with(to),
    failed: (reason) => this.#upstreamFailures.with(to, reason).inc(),
  }));
  // The series recorded for every query, each found once per label
  // combination and kept: recording is then a lookup by the values as they
  // are (no label strings joined per query; `with` was 1.5 % of the CPU).
  readonly #requestSeries = memoized((proto: string) =>
    memoized((qtype: number) => this.#requests.with(proto, typeName(qtype)))
  );
  readonly #responseSeries = memoized((proto: string) =>
    memoized((rcode: number) =>
      memoized((source: string) => this.#responses.with(proto, rcodeName(rcode), source))
    )
  );
  readonly #durationSeries = memoized((proto: string) => this.#duration.with(proto));
  readonly #cacheSeries = memoized((result: string) => this.#cache.with(result));

  /** @param version The version reported by `dotproxy_build_info`. */
  constructor(version: string) {
    this.registry.register(
      new Gauge("dotproxy_build_info", "Always 1; the version is a label.", ["version"], () => [
        [[version], 1],
      ]),
    );
  }

  /** A query arrived (and could be parsed far enough to know its type). */
  request(proto: string, qtype: number): void {
    this.#requestSeries(proto)(qtype).inc();
  }

  /** A response went out; `source` is upstream, cache, stale or local. */
  response(proto: string, rcode: number, source: string, seconds: number): void {
    this.#responseSeries(proto)(rcode)(source).inc();
    this.#durationSeries(proto).observe(seconds);
  }

  /** A query was dropped or refused before any upstream; `action` is drop, formerr, refused... */
  rejected(action: string, reason: string): void {
    this.#rejected.with(action, reason).inc();
  }

  /** A cache lookup (hit, miss, stale), a background refresh (prefetch or stale refresh) or a query that joined one in flight (coalesced). */
  cache(result: "hit" | "miss" | "stale" | "refresh" | "coalesced"): void {
    this.#cacheSeries(result).inc();
  }

  /** A response went out carrying this DNSSEC state (validation on). */
  dnssecAnswer(state: string): void {
    this.#dnssecAnswers.with(state).inc();
  }

  /** A reply failed validation; `reason` names its Extended DNS Error. */
  dnssecBogus(reason: string): void {
    this.#dnssecBogus.with(reason).inc();
  }

  /** The series of one upstream. */
  upstream(to: string): UpstreamSeries {
    return this.#upstreamSeries(to);
  }

  /** Gauges read from the upstreams in use when scraped. */
  watchUpstreams(upstreams: () => readonly Upstream[]): void {
    const each = (value: (upstream: Upstream) => number) => () =>
      upstreams().map((upstream) => [[upstream.label], value(upstream)] as const);
    this.registry.register(
      new Gauge(
        "dotproxy_upstream_tls_connections",
        "TLS connections open to an upstream.",
        ["to"],
        each((upstream) => upstream.openConnections),
      ),
    );
    this.registry.register(
      new Gauge(
        "dotproxy_upstream_requests_in_flight",
        "Queries sent to an upstream and not answered yet.",
        ["to"],
        each((upstream) => upstream.inFlight),
      ),
    );
    this.registry.register(
      new Gauge(
        "dotproxy_upstream_up",
        "1 while the upstream is used, 0 while it is down and probed.",
        ["to"],
        each((upstream) => upstream.health.up ? 1 : 0),
      ),
    );
  }

  /** Gauges and the eviction counter read from the cache when scraped. */
  watchCache(cache: AnswerCache): void {
    this.registry.register(
      new Gauge("dotproxy_cache_entries", "Answers in the cache.", [], () => [[[], cache.size]]),
    );
    this.registry.register(
      new Gauge(
        "dotproxy_cache_size_bytes",
        "Bytes the cache holds, by its own accounting.",
        [],
        () => [[[], cache.bytes]],
      ),
    );
    this.registry.register(
      new CounterFrom(
        "dotproxy_cache_evictions_total",
        "Answers evicted to keep the cache within its bounds.",
        [],
        () => [[[], cache.evictions]],
      ),
    );
  }

  /** The access list's, rate limit's and caps' counters, read when scraped. */
  watchAdmission(counters: () => Readonly<AdmissionCounters>): void {
    this.registry.register(
      new CounterFrom(
        "dotproxy_admission_rejected_total",
        "Queries and TCP connections turned away by the access list, rate limit or caps.",
        ["reason"],
        () =>
          Object.entries(counters()).map(([reason, value]) => [[kebab(reason)], value] as const),
      ),
    );
  }
}

/** `rateLimited` → `rate-limited`, for label values. */
function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

/** Counters whose values another object keeps: a gauge's collection, typed as a counter. */
class CounterFrom extends Gauge {
  override render(): string {
    return super.render().replace(`# TYPE ${this.name} gauge`, `# TYPE ${this.name} counter`);
  }
}

/** `make` called once per value, its result kept and returned for that value again. */
function memoized<K, S>(make: (key: K) => S): (key: K) => S {
  const made = new Map<K, S>();
  return (key) => {
    let series = made.get(key);
    if (series === undefined) made.set(key, series = make(key));
    return series;
  };
}
