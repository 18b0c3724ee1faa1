/**
 * What the proxy does with one client query, whatever transport brought it:
 * refuse what is malformed as the RFCs say, answer what it answers itself,
 * resolve the rest (cache, then upstreams), fit the answer to the client, and
 * count and optionally log the outcome.
 *
 * @module
 */

import {
  EDE_CODE,
  HEADER_LENGTH,
  MAX_MESSAGE_SIZE,
  OPCODE_QUERY,
  RCODE,
} from "./wire/constants.ts";
import { getHeaderRcode, getOpcode, isResponse } from "./wire/header.ts";
import { type MessageLayout, parseMessage } from "./wire/message.ts";
import { nameToString } from "./wire/name.ts";
import { cacheKey, keyName } from "./cache/cache_key.ts";
import {
  buildClientResponse,
  buildErrorResponse,
  type ResponseOptions,
  udpPayloadLimit,
} from "./wire/responses.ts";
import { buildIdServerAnswer, isIdServerQuery } from "./wire/local_answers.ts";
import type { Resolution, ResolutionListener, Resolver } from "./cache/resolver.ts";
import type { Router } from "./routing/router.ts";
import { buildLocalAnswer } from "./routing/local_zones.ts";
import { type ProxyMetrics, rcodeName, typeName } from "./observability/proxy_metrics.ts";
import { getLogger } from "./log.ts";

const log = getLogger("query");
const queryLog = getLogger("querylog");

/** The transport a query came in on. */
export type Transport = "udp" | "tcp";

/** Where a query came from. */
export interface QueryContext {
  readonly transport: Transport;
  /** The client's address and port, for logs. */
  readonly client: Deno.NetAddr;
  /** The query's trace, when tracing is on (set by {@linkcode QueryTracing}). */
  readonly trace?: QueryTrace;
}

/** The trace of one query (an OpenTelemetry span), told its outcome before the answer goes. */
export interface QueryTrace {
  /**
   * @param query The query as received.
   * @param layout Its layout, null when it could not be parsed.
   * @param rcode The answer's response code.
   * @param source Where the answer came from (upstream, cache, stale, local...) or why refused.
   */
  finished(query: Uint8Array, layout: MessageLayout | null, rcode: number, source: string): void;
  /** The answer's DNSSEC validation state (secure, insecure, bogus...), when validating. */
  validated(state: string): void;
}

/** Traces queries (implemented in `observability/query_tracer.ts`). */
export interface QueryTracing {
  /**
   * Starts a query's trace and has `handler` handle it with a context that
   * carries the trace and a listener that ends it.
   */
  trace(
    query: Uint8Array,
    context: QueryContext,
    listener: AnswerListener,
    handler: QueryHandler,
  ): void;
}

/** Settings of the handler. */
export interface QueryHandlerOptions {
  /** Cache, coalescing and forwarding. */
  readonly resolver: Resolver;
  /** The current router (it changes on reload). */
  readonly router: () => Router;
  /** Largest UDP answer (`--max-udp-size`). */
  readonly maxUdpSize: number;
  readonly metrics: ProxyMetrics;
  /** Log one line per answered query (`--log-queries`). */
  readonly logQueries?: boolean;
  /** The worker this handler runs in (`--workers N`), named in the query log; absent with one. */
  readonly worker?: number;
  /** A span per query (OpenTelemetry, `OTEL_DENO=true`); none when absent. */
  readonly tracing?: QueryTracing;
}

/** What became of a query, for metrics and the query log. */
interface Outcome {
  readonly response: Uint8Array;
  /** upstream, cache, stale, local, or the reason it was refused or dropped. */
  readonly source: string;
  readonly upstream?: string;
}

/** Told the answer to a query, once; it may be told before `handle` returns. */
export interface AnswerListener {
  /**
   * @param answer The answer; null when the message must be dropped (too
   * short to have a header, or itself a response: answering those could
   * loop), or when answering it failed (logged).
   */
  answered(answer: Uint8Array | null): void;
}

/** Turns a client query into the answer to send back. */
export class QueryHandler {
  readonly #resolver: Resolver;
  readonly #router: () => Router;
  readonly #maxUdpSize: number;
  readonly #metrics: ProxyMetrics;
  readonly #logQueries: boolean;
  readonly #worker: number | undefined;
  /** Null when tracing is off: then nothing about traces is made per query. */
  readonly #tracing: QueryTracing | null;

  /** @param options The resolver, the UDP size, metrics and logging. */
  constructor(options: QueryHandlerOptions) {
    this.#resolver = options.resolver;
    this.#router = options.router;
    this.#maxUdpSize = options.maxUdpSize;
    this.#metrics = options.metrics;
    this.#logQueries = options.logQueries ?? false;
    this.#worker = options.worker;
    this.#tracing = options.tracing ?? null;
  }

  /**
   * Answers one query.
   *
   * @param query The message as received.
   * @param context Transport and client.
   * @param listener Told the answer, or null when the message is dropped.
   */
  handle(query: Uint8Array, context: QueryContext, listener: AnswerListener): void {
    // A listener, not a promise: one object (a ResolverWait) is all that a
    // forwarded query keeps waiting here (see forwarder.ts for why).
    if (this.#tracing !== null && context.trace === undefined) {
      return this.#tracing.trace(query, context, listener, this); // back here, traced
    }
    const started = performance.now();
    let answer: Uint8Array | null;
    try {
      if (query.length < HEADER_LENGTH) {
        answer = this.#drop(context, "short", `${query.length} octets`);
      } else if (isResponse(query)) {
        answer = this.#drop(context, "response", "QR bit set");
      } else {
        let layout: MessageLayout | null = null;
        let problem = "";
        try {
          layout = parseMessage(query);
        } catch (error) {
          problem = (error as Error).message;
        }
        if (layout?.questionCount === 1) this.#metrics.request(context.transport, layout.qtype);
        const outcome = this.#answer(query, layout, problem, context, started, listener);
        if (outcome === undefined) return; // the resolver tells the listener
        answer = this.#finish(query, layout, context, outcome, started);
      }
    } catch (error) {
      log.error("Query handling failed: {error}", { error });
      answer = null;
    }
    listener.answered(answer);
  }

  /** Counts and logs the outcome; returns the response to send. */
  #finish(
    query: Uint8Array,
    layout: MessageLayout | null,
    context: QueryContext,
    outcome: Outcome,
    started: number,
  ): Uint8Array {
    const response = outcome.response;
    const rcode = getHeaderRcode(response) | (outcome.source === "badvers" ? RCODE.BADVERS : 0);
    const seconds = (performance.now() - started) / 1000;
    this.#metrics.response(context.transport, rcode, outcome.source, seconds);
    if (this.#tracing !== null) context.trace?.finished(query, layout, rcode, outcome.source);
    if (this.#logQueries) this.#logQuery(query, layout, context, rcode, outcome, seconds);
    return response;
  }

  /** The outcome, or undefined when the query went to the resolver, which tells `listener`. */
  #answer(
    query: Uint8Array,
    layout: MessageLayout | null,
    problem: string,
    context: QueryContext,
    now: number,
    listener: AnswerListener,
  ): Outcome | undefined {
    if (getOpcode(query) !== OPCODE_QUERY) {
      return this.#refuse(
        query,
        layout,
        RCODE.NOTIMP,
        context,
        "opcode",
        `opcode ${getOpcode(query)}`,
      );
    }
    if (layout === null) {
      return this.#refuse(query, null, RCODE.FORMERR, context, "malformed", problem);
    }
    if (layout.questionCount !== 1) {
      return this.#refuse(query, layout, RCODE.FORMERR, context, "malformed", "no question");
    }
    if (layout.edns !== null && layout.edns.version !== 0) {
      const version = layout.edns.version;
      return this.#refuse(
        query,
        layout,
        RCODE.BADVERS,
        context,
        "edns-version",
        `EDNS version ${version}`,
      );
    }
    const limit = context.transport === "udp"
      ? udpPayloadLimit(layout, this.#maxUdpSize)
      : MAX_MESSAGE_SIZE;
    if (isIdServerQuery(query, layout)) {
      return this.#local(query, layout, limit, buildIdServerAnswer(query, layout));
    }
    const key = cacheKey(query, layout);
    const route = this.#router().route(keyName(key));
    if (route.kind === "local") {
      return this.#local(query, layout, limit, buildLocalAnswer(query, layout, route.zone));
    }
    const wait = new ResolverWait(query, layout, context, now, limit, listener, this.#resolved);
    this.#resolver.resolve(query, layout, key, route.group, now, wait);
  }

  /** The outcome of a query the proxy answers itself (id.server, a local zone). */
  #local(query: Uint8Array, layout: MessageLayout, limit: number, message: Uint8Array): Outcome {
    const answer = { message, questionEnd: layout.questionEnd, extendedRcode: 0, errors: [] };
    const options: ResponseOptions = { limit, maxUdpSize: this.#maxUdpSize };
    return { response: buildClientResponse(answer, query, layout, options), source: "local" };
  }

  /** The resolver's outcome for a query: build, count and hand over its answer. */
  readonly #resolved = (wait: ResolverWait, resolution: Resolution | null, error: unknown) => {
    let answer: Uint8Array | null = null;
    if (error !== undefined) {
      log.error("Query handling failed: {error}", { error });
    } else {
      try {
        const { query, layout } = wait;
        const options = { limit: wait.limit, maxUdpSize: this.#maxUdpSize };
        const outcome = this.#fromResolution(query, layout, options, resolution);
        const security = resolution?.answer.security;
        if (this.#tracing !== null && security !== undefined) {
          wait.context.trace?.validated(security);
        }
        answer = this.#finish(query, layout, wait.context, outcome, wait.started);
      } catch (thrown) {
        log.error("Query handling failed: {error}", { error: thrown });
      }
    }
    wait.listener.answered(answer);
  };

  #fromResolution(
    query: Uint8Array,
    layout: MessageLayout,
    options: ResponseOptions,
    resolution: Resolution | null,
  ): Outcome {
    if (resolution === null) {
      const response = buildErrorResponse(query, layout, RCODE.SERVFAIL, this.#maxUdpSize, {
        code: EDE_CODE.NO_REACHABLE_AUTHORITY,
        text: "no upstream answered in time",
      });
      return { response, source: "unreachable" };
    }
    // An answer fresh from upstream (most of them) needs no extra options
    // object, nor an outcome built by spreading.
    const { ttls, error, source, upstream } = resolution;
    if (resolution.answer.security !== undefined) {
      this.#metrics.dnssecAnswer(resolution.answer.security);
    }
    const response = buildClientResponse(
      resolution.answer,
      query,
      layout,
      ttls === undefined && error === undefined
        ? options
        : { ...options, ...(ttls && { ttls }), ...(error && { error }) },
    );
    return upstream === undefined ? { response, source } : { response, source, upstream };
  }

  #refuse(
    query: Uint8Array,
    layout: MessageLayout | null,
    rcode: number,
    context: QueryContext,
    reason: string,
    detail: string,
  ): Outcome {
    const action = rcodeName(rcode).toLowerCase();
    this.#metrics.rejected(action, reason);
    log.debug("Answering {rcode} to {client} over {transport}: {detail}", {
      rcode: rcodeName(rcode),
      client: `${context.client.hostname}:${context.client.port}`,
      transport: context.transport,
      detail,
    });
    return { response: buildErrorResponse(query, layout, rcode, this.#maxUdpSize), source: action };
  }

  #drop(context: QueryContext, reason: string, detail: string): null {
    this.#metrics.rejected("drop", reason);
    log.debug("Dropping message from {client} over {transport}: {detail}", {
      client: `${context.client.hostname}:${context.client.port}`,
      transport: context.transport,
      detail,
    });
    return null;
  }

  #logQuery(
    query: Uint8Array,
    layout: MessageLayout | null,
    context: QueryContext,
    rcode: number,
    outcome: Outcome,
    seconds: number,
  ): void {
    const question = layout?.questionCount === 1;
    queryLog.info(
      this.#worker === undefined
        ? "{client} {proto} {name} {type} {rcode} {source} {duration_ms} ms"
        : "{client} {proto} {name} {type} {rcode} {source} {duration_ms} ms worker {worker}",
      {
        worker: this.#worker,
        client: context.client.hostname,
        proto: context.transport,
        name: question ? nameToString(query, HEADER_LENGTH) : "",
        type: question ? typeName(layout.qtype) : "",
        rcode: rcodeName(rcode),
        source: outcome.upstream ?? outcome.source,
        duration_ms: Math.round(seconds * 10000) / 10,
      },
    );
  }
}

/**
 * A query waiting for the resolver: what its answer is built from. One
 * object rather than a closure and an options object: it waits as long as
 * the upstream takes (see forwarder.ts for why that matters).
 */
class ResolverWait implements ResolutionListener {
  constructor(
    readonly query: Uint8Array,
    readonly layout: MessageLayout,
    readonly context: QueryContext,
    readonly started: number,
    /** Largest response the client may get. */
    readonly limit: number,
    readonly listener: AnswerListener,
    readonly onResolved: (
      wait: ResolverWait,
      resolution: Resolution | null,
      error: unknown,
    ) => void,
  ) {}

  /** See {@linkcode ResolutionListener}. */
  resolved(resolution: Resolution | null, error?: unknown): void {
    this.onResolved(this, resolution, error);
  }
}
