/**
 * OpenTelemetry traces, on when `--otlp-endpoint` is given: a server span per request (child of the caller's W3C
 * `traceparent`, which the response names in its own `traceparent`) and a client span per backend call, child of
 * the request's span, exported over OTLP/HTTP. The sidecar keeps its own tracer provider and its own async
 * context rather than registering globals, so an application embedding it keeps its own OpenTelemetry setup.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import {
  type Context,
  defaultTextMapGetter,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { toEnvelope } from "../shared/errors.js";
import type { CallSpan } from "../shared/instrument.js";
import type { BackendTracer } from "./metrics.js";

export interface TracingOptions {
  /** OTLP/HTTP endpoint: a base URL (`http://collector:4318`) or the full traces URL (`…/v1/traces`). */
  endpoint: string;
  serviceName?: string;
  /** Longest wait before a batch of spans is sent (default 1 s). */
  flushMs?: number;
}

class BackendCallSpan implements CallSpan {
  constructor(private readonly span: Span) {}
  end(err?: unknown): void {
    if (err !== undefined) {
      const env = toEnvelope(err);
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: env.code });
    }
    this.span.end();
  }
}

export class Tracing implements BackendTracer {
  private readonly provider: BasicTracerProvider;
  private readonly tracer: Tracer;
  private readonly als = new AsyncLocalStorage<Span>();
  private readonly propagator = new W3CTraceContextPropagator();

  constructor(opts: TracingOptions) {
    const url = /\/v1\/traces\/?$/.test(opts.endpoint)
      ? opts.endpoint
      : `${opts.endpoint.replace(/\/+$/, "")}/v1/traces`;
    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ "service.name": opts.serviceName ?? "mikcar" }),
      spanProcessors: [
        new BatchSpanProcessor(new OTLPTraceExporter({ url }), { scheduledDelayMillis: opts.flushMs ?? 1_000 }),
      ],
    });
    this.tracer = this.provider.getTracer("mikcar");
  }

  /** A server span for one request, child of the caller's span when `traceparent` is valid. */
  startRequest(name: string, traceparent: string | null | undefined, attributes: Record<string, string>): Span {
    let parent: Context = ROOT_CONTEXT;
    if (traceparent) parent = this.propagator.extract(ROOT_CONTEXT, { traceparent }, defaultTextMapGetter);
    return this.tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
  }

  /** Runs `fn` with `span` as the current request span (the parent of backend call spans). */
  run<T>(span: Span, fn: () => T): T {
    return this.als.run(span, fn);
  }

  /** The `traceparent` naming `span`, for the response. */
  traceparentOf(span: Span): string {
    const sc = span.spanContext();
    return `00-${sc.traceId}-${sc.spanId}-${sc.traceFlags & 1 ? "01" : "00"}`;
  }

  /** Ends a request span with its outcome: a Connect code (0 = ok) and, for REST, the HTTP status. */
  endRequest(span: Span, code: number, codeName: string, status?: number): void {
    span.setAttribute("rpc.response.status_code", codeName);
    if (status !== undefined) span.setAttribute("http.response.status_code", status);
    if (code !== 0 && (status === undefined || status >= 500)) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  }

  backendSpan(service: string, backend: string, method: string): CallSpan | undefined {
    const parent = this.als.getStore();
    if (!parent) return undefined; // background work of a backend, not part of a request
    const span = this.tracer.startSpan(
      `${service}.${backend} ${method}`,
      {
        kind: SpanKind.CLIENT,
        attributes: { "mikcar.service": service, "mikcar.backend": backend, "mikcar.call": method },
      },
      trace.setSpan(ROOT_CONTEXT, parent),
    );
    return new BackendCallSpan(span);
  }

  /**
   * Sends what is buffered and stops, waiting at most `maxMs`: an unreachable collector (the exporter retries
   * with backoff) must not hold up the process's exit.
   */
  async close(maxMs = 2_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, maxMs);
      timer.unref();
    });
    try {
      await Promise.race([this.provider.shutdown(), late]);
    } finally {
      clearTimeout(timer);
    }
  }
}
