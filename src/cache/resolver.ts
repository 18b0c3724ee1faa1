/**
 * Answers a query from the cache when it can, from the upstreams when it
 * must, and from stale data when the upstreams fail (RFC 8767); identical
 * queries in flight share one upstream exchange, and popular entries are
 * refreshed shortly before they expire. What goes into the cache and for
 * how long is answer_store.ts; how a stale answer is served, stale_answer.ts.
 *
 * @module
 */

import type { MessageLayout } from "../wire/message.ts";
import { type Answer, answerFromReply } from "../wire/responses.ts";
import type { Forwarded, Forwarder, ForwardListener } from "../upstream/forwarder.ts";
import type { UpstreamGroup } from "../upstream/upstream_group.ts";
import type { Router } from "../routing/router.ts";
import { getLogger } from "../log.ts";
import type { ProxyMetrics } from "../observability/proxy_metrics.ts";
import { keyDnssecOk, keyName } from "./cache_key.ts";
import type { TtlBounds } from "./cache_lifetime.ts";
import { KeyTable } from "./key_table.ts";
import type { AnswerCache, CachedAnswer } from "./answer_cache.ts";
import { refreshQuery } from "./refresh_query.ts";
import type { Resolution, ResolutionListener } from "./resolution.ts";
import { AnswerStore } from "./answer_store.ts";
import { isServfail, staleAnswer, ttlOffsets } from "./stale_answer.ts";

export type { AnswerSource, Resolution, ResolutionListener } from "./resolution.ts";
export { STALE_TTL } from "./stale_answer.ts";

const log = getLogger("cache");

/**
 * Turns an upstream reply into the answer to cache and give (DNSSEC
 * validation, see src/dnssec/answer_validation.ts); it may take its time,
 * the exchange stays in flight meanwhile.
 */
export interface AnswerCheck {
  /**
   * @param key The cache key (its DO and CD bits matter).
   * @param reply The upstream's reply, matched to the query.
   * @param layout Its layout.
   * @param arrivedAt When the query arrived (`performance.now()`): its
   *   `--timeout` deadline counts from there, the check's own fetches included.
   * @returns The answer.
   */
  check(key: string, reply: Uint8Array, layout: MessageLayout, arrivedAt: number): Promise<Answer>;
}

/** Settings of the resolver. */
export interface ResolverOptions {
  readonly forwarder: Forwarder;
  /** The current router, for background refreshes (it changes on reload). */
  readonly router: () => Router;
  readonly metrics: ProxyMetrics;
  /** The cache, or null when caching is off (coalescing still applies). */
  readonly cache: AnswerCache | null;
  readonly bounds: TtlBounds;
  /** Wait this long for a refresh before serving stale (RFC 8767 §5 client response timer). @default {1800} */
  readonly staleAfterMs?: number;
  /** Checks each upstream reply before it is cached (DNSSEC validation); none when off. */
  readonly check?: AnswerCheck;
}

/** After a failed refresh, serve stale at once for this long (RFC 8767 §5 failure recheck timer). */
const FAILURE_RECHECK_MS = 30_000;
/** A fresh entry is prefetched in the last tenth of its TTL... */
const PREFETCH_WINDOW = 0.1;
/** ...if it was served at least this often. */
const PREFETCH_MIN_HITS = 2;

/** Cache, coalescing and serve-stale in front of the forwarder. */
export class Resolver {
  readonly #forwarder: Forwarder;
  readonly #router: () => Router;
  readonly #metrics: ProxyMetrics;
  readonly #cache: AnswerCache | null;
  /** Caches the upstreams' answers, for the exchanges in flight to call. */
  readonly #store: AnswerStore;
  readonly #staleAfterMs: number;
  readonly #check: AnswerCheck | null;
  /**
   * Upstream exchanges in flight by cache key (identical queries share one);
   * a KeyTable, not a Map, so that waiting queries are not promoted (see key_table.ts).
   */
  readonly #inFlight = new KeyTable<Fetch>();

  /** @param options Forwarder, cache and timers. */
  constructor(options: ResolverOptions) {
    this.#forwarder = options.forwarder;
    this.#router = options.router;
    this.#metrics = options.metrics;
    this.#cache = options.cache;
    this.#store = new AnswerStore(options.cache, options.bounds);
    this.#staleAfterMs = options.staleAfterMs ?? 1800;
    this.#check = options.check ?? null;
  }

  /**
   * Resolves a query.
   *
   * @param query The client's query.
   * @param layout Its layout (one question, EDNS version 0 if any).
   * @param key Its cache key (`cacheKey`), computed once for routing and caching.
   * @param group The upstreams that serve its name.
   * @param now When the query arrived (`performance.now()`).
   * @param listener Told the answer (at once on a hit).
   */
  resolve(
    query: Uint8Array,
    layout: MessageLayout,
    key: string,
    group: UpstreamGroup,
    now: number,
    listener: ResolutionListener,
  ): void {
    // A listener, not promises: the hit and the miss (nearly every query)
    // take no promise step; only the expired entry needs them (#refresh).
    const entry = this.#cache?.get(key, now);
    if (entry === undefined) {
      this.#metrics.cache("miss");
      return this.#fetch(key, query, layout, group, now, listener);
    }
    const expiresAt = entry.storedAt + entry.ttl * 1000;
    if (now < expiresAt) {
      this.#metrics.cache("hit");
      entry.hits++;
      if (entry.hits >= PREFETCH_MIN_HITS && expiresAt - now < entry.ttl * 1000 * PREFETCH_WINDOW) {
        this.#background(key, entry);
      }
      const elapsed = Math.floor((now - entry.storedAt) / 1000);
      return listener.resolved({
        answer: entry,
        ttls: { offsets: ttlOffsets(entry), elapsed },
        source: "cache",
      });
    }
    this.#refresh(key, entry, query, layout, group, now).then(
      (resolution) => listener.resolved(resolution),
      (error) => listener.resolved(null, error),
    );
  }

  /**
   * Routes changed (a reload): drops the cached answers of the names now
   * routed elsewhere, which their new upstreams may answer differently (a
   * public NXDOMAIN for a name a new forward zone serves would otherwise
   * outlive the reload by its negative TTL, up to a day), and caches no
   * answer to a query that arrived before.
   *
   * @param changed Whether a name key is routed elsewhere now.
   * @returns How many answers were dropped.
   */
  rerouted(changed: (name: string) => boolean): number {
    return this.#store.rerouted(changed);
  }

  /** The entry expired but may still be served stale: refresh first, serve stale on failure. */
  async #refresh(
    key: string,
    entry: CachedAnswer,
    query: Uint8Array,
    layout: MessageLayout,
    group: UpstreamGroup,
    now: number,
  ): Promise<Resolution | null> {
    this.#metrics.cache("miss");
    if (now - entry.refreshFailedAt < FAILURE_RECHECK_MS) {
      this.#background(key, entry);
      return this.#stale(entry, now);
    }
    const fresh = await this.#raceRefresh(this.#fetched(key, query, layout, group, now));
    if (fresh !== null && !isServfail(fresh.answer)) return fresh;
    entry.refreshFailedAt = performance.now();
    return this.#stale(entry, now);
  }

  #stale(entry: CachedAnswer, now: number): Resolution {
    this.#metrics.cache("stale");
    return staleAnswer(entry, now);
  }

  /** Waits for a refresh at most `staleAfterMs`; null when it fails or is late. */
  async #raceRefresh(fetching: Promise<Resolution | null>): Promise<Resolution | null> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<null>((resolve) =>
      timer = setTimeout(resolve, this.#staleAfterMs, null)
    );
    try {
      return await Promise.race([fetching, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Refreshes an entry without a waiting client (prefetch, stale refresh). */
  #background(key: string, entry: CachedAnswer): void {
    if (this.#inFlight.get(key) !== undefined) return;
    const { query, layout } = refreshQuery(entry, keyDnssecOk(key));
    const route = this.#router().route(keyName(key));
    if (route.kind !== "forward") return;
    this.#metrics.cache("refresh");
    this.#fetched(key, query, layout, route.group, performance.now()).then((resolution) => {
      if (resolution === null || isServfail(resolution.answer)) {
        entry.refreshFailedAt = performance.now();
      }
    }, (error) => log.error("Background refresh failed: {error}", { error }));
  }

  /** One upstream exchange per key at a time; its answer is cached and shared. */
  #fetch(
    key: string,
    query: Uint8Array,
    layout: MessageLayout,
    group: UpstreamGroup,
    now: number,
    listener: ResolutionListener,
  ): void {
    const inFlight = this.#inFlight.get(key);
    if (inFlight !== undefined) {
      this.#metrics.cache("coalesced");
      return inFlight.join(listener);
    }
    const fetch = new Fetch(key, now, listener, this.#inFlight, this.#store, this.#check);
    // In the map before forwarding starts: the forwarder may answer at once.
    this.#inFlight.set(key, fetch);
    try {
      this.#forwarder.forward(query, layout, group, now, fetch);
    } catch (error) {
      fetch.settle(null, error);
    }
  }

  /** {@linkcode #fetch} as a promise, for the paths that wait on a timer too (stale, refresh). */
  #fetched(
    key: string,
    query: Uint8Array,
    layout: MessageLayout,
    group: UpstreamGroup,
    now: number,
  ): Promise<Resolution | null> {
    return new Promise((resolve, reject) => {
      this.#fetch(key, query, layout, group, now, {
        resolved: (resolution, error) => error === undefined ? resolve(resolution) : reject(error),
      });
    });
  }
}

/**
 * One upstream exchange in flight for a cache key: it has the answer
 * cached, and tells every query that waits for it.
 *
 * An object rather than closures and an array of callbacks: it waits as
 * long as the upstream takes, and each object that waits costs a copy in
 * the young generation, or a promotion (see forwarder.ts).
 */
class Fetch implements ForwardListener {
  readonly #key: string;
  readonly #now: number;
  readonly #first: ResolutionListener;
  /** Queries that joined after the first (coalesced); usually none. */
  #more: ResolutionListener[] | null = null;
  readonly #inFlight: KeyTable<Fetch>;
  readonly #store: AnswerStore;
  readonly #check: AnswerCheck | null;
  #settled = false;

  constructor(
    key: string,
    now: number,
    first: ResolutionListener,
    inFlight: KeyTable<Fetch>,
    store: AnswerStore,
    check: AnswerCheck | null,
  ) {
    this.#key = key;
    this.#now = now;
    this.#first = first;
    this.#inFlight = inFlight;
    this.#store = store;
    this.#check = check;
  }

  /** Another query for the same key waits for this exchange. */
  join(listener: ResolutionListener): void {
    (this.#more ??= []).push(listener);
  }

  /** The forwarder's outcome (see {@linkcode ForwardListener}). */
  forwarded(forwarded: Forwarded | null, error?: unknown): void {
    if (forwarded === null) return this.settle(null, error);
    if (this.#check !== null) {
      this.#check.check(this.#key, forwarded.reply, forwarded.layout, this.#now).then(
        (answer) => this.#stored(answer, forwarded.upstream),
        (thrown) => this.settle(null, thrown),
      );
      return;
    }
    let answer: Answer;
    try {
      answer = answerFromReply(forwarded.reply, forwarded.layout);
    } catch (thrown) {
      return this.settle(null, thrown);
    }
    this.#stored(answer, forwarded.upstream);
  }

  #stored(answer: Answer, upstream: string): void {
    let resolution: Resolution;
    try {
      resolution = this.#store.store(this.#key, answer, upstream, this.#now);
    } catch (thrown) {
      return this.settle(null, thrown);
    }
    this.settle(resolution);
  }

  /** Ends the exchange and tells every waiting query, once. */
  settle(resolution: Resolution | null, error?: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#inFlight.delete(this.#key);
    tell(this.#first, resolution, error);
    if (this.#more === null) return;
    for (const listener of this.#more) tell(listener, resolution, error);
  }
}

/** Tells a waiting query; one that throws (a bug) must not keep the others waiting. */
function tell(listener: ResolutionListener, resolution: Resolution | null, error: unknown): void {
  try {
    listener.resolved(resolution, error);
  } catch (thrown) {
    log.error("Answering a query failed: {error}", { error: thrown });
  }
}
