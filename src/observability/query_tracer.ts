/**
 * OpenTelemetry traces of client queries: a span per query, with a child
 * span per upstream attempt. Deno exports them itself when started with
 * `OTEL_DENO=true` (OTLP over HTTP to `OTEL_EXPORTER_OTLP_ENDPOINT`); this
 * module only creates them, through `npm:@opentelemetry/api`, to which Deno
 * wires its own SDK.
 *
 * Only built when tracing is on: with it off the proxy holds no tracer and
 * makes nothing per query (one null check in the handler and the forwarder).
 *
 * Query names are personal data: `dns.question.name` is set only when the
 * operator opts in with `--trace-query-names`.
 *
 * @module
 */

import {
  type Context,
  context as contexts,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
  // deno-lint-ignore no-import-prefix -- pinned here, not in deno.json: docs/development.md
} from "npm:@opentelemetry/api@1.10.0";
import { HEADER_LENGTH, RCODE } from "../wire/constants.ts";
import type { MessageLayout } from "../wire/message.ts";
import { nameToString } from "../wire/name.ts";
import type {
  AnswerListener,
  QueryContext,
  QueryHandler,
  QueryTrace,
  QueryTracing,
  Transport,
} from "../query_handler.ts";
import type { AttemptSpan, AttemptTrace, AttemptTracing } from "../upstream/attempt_trace.ts";
import type { Upstream } from "../upstream/upstream.ts";
import { UpstreamError } from "../upstream/upstream_error.ts";
import { rcodeName, typeName } from "./proxy_metrics.ts";

/**
 * Whether Deno exports OpenTelemetry data, read as Deno reads it (only
 * `OTEL_DENO=true` turns it on).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { tracingEnabled } from "./query_tracer.ts";
 *
 * assert.equal(tracingEnabled({ OTEL_DENO: "true" }), true);
 * assert.equal(tracingEnabled({ OTEL_DENO: "1" }), false);
 * assert.equal(tracingEnabled({}), false);
 * ```
 *
 * @param env The environment variables.
 * @returns True when spans are exported.
 */
export function tracingEnabled(env: Readonly<Record<string, string | undefined>>): boolean {
  return env.OTEL_DENO === "true";
}

/** Settings of {@linkcode QueryTracer}. */
export interface QueryTracerOptions {
  /** Reported as the instrumentation scope's version. */
  readonly version: string;
  /** Set `dns.question.name` on query spans (`--trace-query-names`). */
  readonly queryNames: boolean;
}

/** Makes the spans of queries and of their upstream attempts. */
export class QueryTracer implements QueryTracing, AttemptTracing {
  readonly #tracer: Tracer;
  readonly #queryNames: boolean;

  /** @param options Version and whether names are traced. */
  constructor(options: QueryTracerOptions) {
    this.#tracer = trace.getTracer("dotproxy", options.version);
    this.#queryNames = options.queryNames;
  }

  /** See {@linkcode QueryTracing.trace}. */
  trace(
    query: Uint8Array,
    context: QueryContext,
    listener: AnswerListener,
    handler: QueryHandler,
  ): void {
    const span = this.#tracer.startSpan("dns.query", {
      kind: SpanKind.SERVER,
      attributes: { "network.transport": context.transport },
    });
    const traced = new TracedQuery(context, listener, span, this.#queryNames);
    // Active while the query is handed down, so that the forwarder's
    // attempts (see attempts()) find their parent.
    contexts.with(trace.setSpan(contexts.active(), span), () => {
      handler.handle(query, traced, traced);
    });
  }

  /** See {@linkcode AttemptTracing.attempts}. */
  attempts(): AttemptTrace | null {
    const parent = contexts.active();
    if (trace.getSpan(parent) === undefined) return null;
    return new UpstreamAttempts(this.#tracer, parent);
  }
}

/** A query's context and listener that carry its span, ending it with the answer. */
class TracedQuery implements QueryContext, AnswerListener, QueryTrace {
  readonly transport: Transport;
  readonly client: Deno.NetAddr;
  readonly trace: QueryTrace = this;
  readonly #listener: AnswerListener;
  readonly #span: Span;
  readonly #queryNames: boolean;

  constructor(context: QueryContext, listener: AnswerListener, span: Span, queryNames: boolean) {
    this.transport = context.transport;
    this.client = context.client;
    this.#listener = listener;
    this.#span = span;
    this.#queryNames = queryNames;
  }

  /** See {@linkcode QueryTrace.finished}. */
  finished(query: Uint8Array, layout: MessageLayout | null, rcode: number, source: string): void {
    const span = this.#span;
    if (layout !== null && layout.questionCount === 1) {
      span.setAttribute("dns.question.type", typeName(layout.qtype));
      if (this.#queryNames) {
        span.setAttribute("dns.question.name", nameToString(query, HEADER_LENGTH));
      }
    }
    span.setAttribute("dns.response.code", rcodeName(rcode));
    span.setAttribute("dotproxy.answer.source", source);
    const cache = CACHE_RESULT[source];
    if (cache !== undefined) span.setAttribute("dotproxy.cache", cache);
    if (rcode === RCODE.SERVFAIL) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: `SERVFAIL (${source})` });
    }
  }

  /** See {@linkcode QueryTrace.validated}. */
  validated(state: string): void {
    this.#span.setAttribute("dotproxy.dnssec", state);
  }

  /** See {@linkcode AnswerListener.answered}. */
  answered(answer: Uint8Array | null): void {
    if (answer === null) this.#span.setAttribute("dotproxy.dropped", true);
    try {
      this.#listener.answered(answer);
    } finally {
      this.#span.end();
    }
  }
}

/** `dotproxy.cache` by answer source: only answers that looked in the cache have one. */
const CACHE_RESULT: Readonly<Record<string, string>> = {
  cache: "hit",
  stale: "stale",
  upstream: "miss",
  unreachable: "miss",
};

/** The spans of one query's upstream attempts, children of its span. */
class UpstreamAttempts implements AttemptTrace {
  readonly #tracer: Tracer;
  readonly #parent: Context;
  #attempt = 0;

  constructor(tracer: Tracer, parent: Context) {
    this.#tracer = tracer;
    this.#parent = parent;
  }

  sent(upstream: Upstream, hedge: boolean): AttemptSpan {
    return new TracedAttempt(this.#tracer.startSpan("dns.upstream", {
      kind: SpanKind.CLIENT,
      attributes: {
        "dotproxy.upstream": upstream.label,
        "dotproxy.upstream.attempt": ++this.#attempt,
        "dotproxy.upstream.hedge": hedge,
        // A query that waits for a new connection is told so (newConnection).
        "dotproxy.upstream.connection": upstream.openConnections > 0 ? "reused" : "new",
      },
    }, this.#parent));
  }
}

/** One attempt's span, ended by its outcome (once). */
class TracedAttempt implements AttemptSpan {
  readonly #span: Span;
  #ended = false;

  constructor(span: Span) {
    this.#span = span;
  }

  newConnection(): void {
    if (!this.#ended) this.#span.setAttribute("dotproxy.upstream.connection", "new");
  }

  replied(rttMs: number): void {
    if (this.#ended) return;
    this.#span.setAttribute("dotproxy.upstream.rtt_ms", rttMs);
    this.#end();
  }

  failed(error: unknown): void {
    if (this.#ended) return;
    const span = this.#span;
    span.setAttribute("error.type", error instanceof UpstreamError ? error.reason : "internal");
    span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message ?? "" });
    this.#end();
  }

  #end(): void {
    this.#ended = true;
    this.#span.end();
  }
}
