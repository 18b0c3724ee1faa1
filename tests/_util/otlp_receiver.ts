/**
 * A real OTLP/HTTP receiver for tests: `Deno.serve` on a loopback port that
 * takes `POST /v1/traces` (and `/v1/logs`, `/v1/metrics`) in the OTLP JSON
 * encoding (`OTEL_EXPORTER_OTLP_PROTOCOL=http/json`), keeps every body as
 * received, and decodes the spans.
 *
 * @module
 */

/** An attribute value as OTLP JSON encodes it (int64 as a string). */
interface AnyValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
}

interface KeyValue {
  key: string;
  value: AnyValue;
}

interface ExportTraceServiceRequest {
  resourceSpans?: {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: {
      scope?: { name?: string };
      spans?: {
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind: number;
        attributes?: KeyValue[];
        status?: { code?: number; message?: string };
      }[];
    }[];
  }[];
}

/** A span, decoded. */
export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** Empty for a root span. */
  readonly parentSpanId: string;
  readonly name: string;
  /** 2 server, 3 client (OTLP SpanKind). */
  readonly kind: number;
  /** The instrumentation scope's name. */
  readonly scope: string;
  /** The resource's `service.name`. */
  readonly service: string;
  readonly attributes: Readonly<Record<string, string | number | boolean>>;
  /** 0 unset, 1 ok, 2 error. */
  readonly statusCode: number;
}

/** A running receiver. */
export interface OtlpReceiver extends AsyncDisposable {
  /** For `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  readonly endpoint: string;
  /** Every request body received, by path (`/v1/traces`...). */
  readonly bodies: { readonly path: string; readonly body: string }[];
  /** The spans of every `/v1/traces` body so far. */
  spans(): ReceivedSpan[];
}

/**
 * Starts the receiver on 127.0.0.1, on a port of the kernel's choosing.
 *
 * @returns The receiver; dispose it to stop it.
 */
export function startOtlpReceiver(): OtlpReceiver {
  const bodies: { path: string; body: string }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const path = new URL(request.url).pathname;
    if (request.method !== "POST" || !path.startsWith("/v1/")) {
      return new Response("not found", { status: 404 });
    }
    if (!request.headers.get("content-type")?.startsWith("application/json")) {
      return new Response("this receiver takes http/json only", { status: 415 });
    }
    bodies.push({ path, body: await request.text() });
    return Response.json({});
  });
  return {
    endpoint: `http://127.0.0.1:${server.addr.port}`,
    bodies,
    spans: () =>
      bodies.filter(({ path }) => path === "/v1/traces").flatMap(({ body }) =>
        decodeSpans(JSON.parse(body) as ExportTraceServiceRequest)
      ),
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

function decodeSpans(request: ExportTraceServiceRequest): ReceivedSpan[] {
  return (request.resourceSpans ?? []).flatMap((resourceSpans) => {
    const service = String(attributes(resourceSpans.resource?.attributes)["service.name"] ?? "");
    return (resourceSpans.scopeSpans ?? []).flatMap((scopeSpans) =>
      (scopeSpans.spans ?? []).map((span) => ({
        traceId: span.traceId,
        spanId: span.spanId,
        parentSpanId: span.parentSpanId ?? "",
        name: span.name,
        kind: span.kind,
        scope: scopeSpans.scope?.name ?? "",
        service,
        attributes: attributes(span.attributes),
        statusCode: span.status?.code ?? 0,
      }))
    );
  });
}

function attributes(list: KeyValue[] | undefined): Record<string, string | number | boolean> {
  const result: Record<string, string | number | boolean> = {};
  for (const { key, value } of list ?? []) {
    const decoded = value.stringValue ?? value.boolValue ?? value.doubleValue ??
      (value.intValue === undefined ? undefined : Number(value.intValue));
    if (decoded === undefined) throw new TypeError(`Cannot decode attribute ${key}`);
    result[key] = decoded;
  }
  return result;
}
