/**
 * The REST layer: matches a request against the REST rows of every enabled service and runs the row. It only
 * routes, reads bodies and writes responses; what an operation does lives in the service implementation.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { finished, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Span } from "@opentelemetry/api";
import FindMyWay from "find-my-way";
import { SidecarError, sidecarError } from "../../shared/errors.js";
import type { Logger } from "../../shared/log.js";
import { readBody, discardRestOfBody } from "../body.js";
import { type Deadline, Deadlines } from "../../shared/deadlines.js";
import { errorBody, logFailure, requestTimeout } from "../failures.js";
import type { ServerLimits, ServiceInstance } from "../../services/module.js";
import { stateOf } from "../policy/request-state.js";
import { RestCall } from "./context.js";
import { parseExact, stringifyExact } from "../../shared/exact-json.js";
import type { HttpMethod, RestResponse, RestRoute } from "../../shared/rest-route.js";
import { CODE_NAMES, type Metrics, type MethodSeries, Protocol } from "../metrics.js";
import type { Tracing } from "../tracing.js";
import { compress, compressible, type Encoding, pickEncoding } from "./compress.js";

const METHODS: HttpMethod[] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"];

interface Store {
  route: RestRoute;
  service: ServiceInstance;
  name: string;
  /** The metrics of the method this row last called (rows call one method, so this is nearly always a hit). */
  series: MethodSeries | undefined;
}

/** What the REST layer records and how it answers, beyond routing. */
export interface RestObservers {
  metrics?: Metrics;
  tracing?: Tracing;
  /** Smallest JSON/text body compressed when the client accepts gzip or br; 0 = never. */
  compressMinBytes?: number;
}

const REST_INFLIGHT = Protocol.Rest;

export interface RestDispatcher {
  /** Handles the request if a REST row matches its path (any method); returns false when no row does. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
}

export function createRestDispatcher(
  services: ReadonlyArray<{ name: string; instance: ServiceInstance }>,
  limits: ServerLimits,
  log: Logger,
  /** Aborted when the server begins to stop: long-polls answer now, with `Connection: close`. */
  stopping?: AbortSignal,
  observers: RestObservers = {},
): RestDispatcher {
  const { metrics, tracing } = observers;
  const minCompress = observers.compressMinBytes ?? 0;
  // Trailing slashes are significant: `/secrets/list/db/` is the folder prefix "db/", not "db".
  const router = FindMyWay({ ignoreTrailingSlash: false, maxParamLength: 65_536 });
  for (const { name, instance } of services) {
    for (const route of instance.rest(instance.impl)) {
      router.on(route.method, `/${name}${route.path}`, () => {}, {
        route,
        service: instance,
        name,
        series: undefined,
      } satisfies Store);
    }
  }

  const deadlines = limits.requestTimeoutMs > 0 ? new Deadlines(limits.requestTimeoutMs) : undefined;

  const lookup = (method: string, path: string) => {
    const found = router.find(method as HttpMethod, path);
    if (found) return found;
    // HEAD falls back to GET; Node drops the body of a HEAD response.
    return method === "HEAD" ? router.find("GET", path) : null;
  };

  return {
    async handle(req, res) {
      const url = req.url ?? "/";
      const q = url.indexOf("?");
      const path = q < 0 ? url : url.slice(0, q);
      const method = req.method ?? "GET";
      let found;
      try {
        found = lookup(method, path);
        if (!found) {
          decodeURIComponent(path); // throws on malformed or non-UTF-8 escapes, which find-my-way just misses
          const allow = METHODS.filter((m) => lookup(m, path) !== null);
          if (allow.length === 0) return false;
          sendError(req, res, sidecarError("METHOD_NOT_ALLOWED", `method ${method} not allowed on ${path}`), {
            allow: allow.join(", "),
          });
          return true;
        }
      } catch {
        sendError(
          req,
          res,
          sidecarError("BAD_REQUEST", "the request path has malformed percent-encoding or is not valid UTF-8"),
        );
        return true;
      }
      const store = found.store as Store;
      const params: Record<string, string> = {};
      for (const [k, v] of Object.entries(found.params)) {
        if (v === undefined) continue;
        // find-my-way leaves bytes that are not valid UTF-8 as U+FFFD; refuse rather than alter the key.
        if (v.includes("\uFFFD") && !path.includes("%EF%BF%BD") && !path.includes("\uFFFD")) {
          sendError(req, res, sidecarError("BAD_REQUEST", `path parameter ${k} is not valid UTF-8`));
          return true;
        }
        params[k] = v;
      }
      const call = new RestCall(
        req,
        res,
        store.service.desc,
        params,
        q < 0 ? "" : url.slice(q + 1),
        stopping,
        stateOf(req),
      );
      if (tracing) await traced(store, call, req, res);
      else await run(store, call, req, res);
      return true;
    },
  };

  /** Runs a row inside the request's span (a child of the caller's `traceparent`), named in the response. */
  async function traced(store: Store, call: RestCall, req: IncomingMessage, res: ServerResponse) {
    const t = tracing!;
    const tp = req.headers.traceparent;
    const span: Span = t.startRequest(
      `${req.method} /${store.name}${store.route.path}`,
      typeof tp === "string" ? tp : undefined,
      {
        "mikcar.service": store.name,
        "mikcar.protocol": "rest",
        "http.request.method": req.method ?? "GET",
      },
    );
    res.setHeader("traceparent", t.traceparentOf(span));
    let code: number = Code.Internal;
    try {
      code = await t.run(span, () => run(store, call, req, res));
    } finally {
      const method = call.rpcMethod ?? "unmapped";
      span.updateName(`${store.name}/${method}`);
      t.endRequest(span, code, CODE_NAMES[code] ?? "unknown", res.statusCode);
    }
  }

  /** The one observation point of a REST request's metrics: counts by code, duration, in-flight gauge. */
  function observe(store: Store, call: RestCall, code: number, t0: number) {
    const m = metrics!;
    m.inflight[REST_INFLIGHT]!.dec();
    const method = call.rpcMethod ?? "unmapped";
    let series = store.series;
    if (series?.method !== method) series = store.series = m.method(store.name, method);
    series.observe(Protocol.Rest, code, (performance.now() - t0) / 1000);
  }

  /** Runs a row; resolves with the Connect code of the outcome (0 = ok), for metrics and the span. */
  async function run(store: Store, call: RestCall, req: IncomingMessage, res: ServerResponse): Promise<number> {
    const route = store.route;
    let deadline: Deadline | undefined;
    let drain = false;
    let code: number = Code.Internal;
    let t0 = 0;
    if (metrics) {
      t0 = performance.now();
      metrics.inflight[REST_INFLIGHT]!.inc();
    }
    if (!route.untimed && deadlines) {
      deadline = deadlines.start(() => {
        const err = requestTimeout(limits.requestTimeoutMs);
        call.abort(err);
        drain = true;
        if (!res.headersSent) sendError(req, res, err, { connection: "close" });
      });
    }
    try {
      if (route.body === "raw" || route.body === "json") {
        call.body = await readBody(req, limits.maxBodyBytes);
        if (route.body === "json" && call.body.length > 0) call.json = parseJsonBody(req, call.body);
      }
      const result = await route.handle(call);
      if (result.onFinish) {
        const done = result.onFinish;
        finished(res, (err) => done(!err && res.writableFinished));
      }
      if (call.aborted && res.headersSent) return (code = Code.DeadlineExceeded);
      if (result.stream) await writeStream(res, result, limits.requestTimeoutMs);
      else {
        const closing = stopping?.aborted === true && req.httpVersionMajor === 1;
        const compressing = writeResult(req, res, result, minCompress, closing);
        if (compressing) await compressing;
      }
      return (code = 0);
    } catch (err) {
      code = err instanceof ConnectError ? err.code : Code.Internal;
      if (res.headersSent) {
        // Mid-stream failure: the status is gone, so cut the response to show it is incomplete.
        logFailure(log, "rest.stream_failed", { method: req.method, path: pathOf(req) }, err);
        res.destroy();
        return code;
      }
      logFailure(log, "rest.failed", { method: req.method, path: pathOf(req) }, err);
      drain = err instanceof SidecarError && err.kind.status === 413;
      sendError(req, res, err, drain ? { connection: "close" } : undefined);
      return code;
    } finally {
      deadline?.cancel();
      if (drain) discardRestOfBody(req);
      if (metrics) observe(store, call, code, t0);
    }
  }
}

function pathOf(req: IncomingMessage) {
  const url = req.url ?? "";
  const q = url.indexOf("?");
  return q < 0 ? url : url.slice(0, q);
}

function parseJsonBody(req: IncomingMessage, body: Buffer): unknown {
  const ct = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (ct !== "application/json" && !ct.endsWith("+json")) {
    throw sidecarError(
      "UNSUPPORTED_MEDIA_TYPE",
      `expected Content-Type: application/json, got ${ct === "" ? "none" : JSON.stringify(ct)}`,
    );
  }
  try {
    return parseExact(body.toString("utf8"));
  } catch (err) {
    throw sidecarError("BAD_REQUEST", `invalid JSON body: ${(err as Error).message}`);
  }
}

/**
 * Streams a response body. Streams are exempt from the request timeout while data flows, but not while it
 * stalls: a client that stops reading (or a source that stops producing) for `idleMs` gets its connection cut,
 * so it cannot hold a file descriptor or an S3 stream open forever.
 */
async function writeStream(res: ServerResponse, r: RestResponse, idleMs: number) {
  res.writeHead(r.status ?? 200, r.headers);
  if (idleMs > 0) {
    res.setTimeout(idleMs, () => res.destroy(new Error(`response stalled for ${idleMs} ms`)));
  }
  try {
    await pipeline(Readable.from(r.stream!, { objectMode: false }), res);
  } finally {
    // The idle timer belongs to this response, not to the keep-alive connection that outlives it.
    // (HTTP/1 only: on HTTP/2 the timer is the stream's, which ends here.)
    if (idleMs > 0 && res.req.httpVersionMajor === 1 && res.socket && !res.socket.destroyed) res.socket.setTimeout(0);
  }
}

/**
 * Writes a buffered result. A JSON body of at least `minCompress` bytes (0 = never) is compressed when
 * the client accepts gzip or br: then the returned promise settles once it is written; otherwise the write is
 * synchronous and nothing is returned. Range responses (206, Content-Range) and encoded bodies are sent as is.
 */
function writeResult(
  req: IncomingMessage,
  res: ServerResponse,
  r: RestResponse,
  minCompress: number,
  closing: boolean,
): Promise<void> | undefined {
  const status = r.status ?? 200;
  let payload: string | Uint8Array | undefined = r.body;
  // Copied key by key, not with `{ ...r.headers }`: res.writeHead walks this object, and the object a spread
  // makes is slower for it to read (about 1.5 µs per request, a tenth of a KV GET's JavaScript time).
  const headers: Record<string, string | number | string[]> = {};
  for (const k in r.headers) headers[k] = r.headers[k]!;
  if (r.json !== undefined) {
    payload = stringifyExact(r.json);
    headers["content-type"] ??= "application/json";
  }
  // Shutting down: the client should not send another request on this connection.
  if (closing) headers.connection = "close";
  if (payload !== undefined) {
    const length = Buffer.byteLength(payload);
    if (
      minCompress > 0 &&
      length >= minCompress &&
      status !== 206 &&
      headers["content-range"] === undefined &&
      headers["content-encoding"] === undefined &&
      // The sidecar's own JSON: results, listings, messages. Never stored bytes (objects carry an ETag for
      // exactly those bytes; KV values are the caller's), whatever their type.
      (r.json !== undefined || (headers.etag === undefined && compressible(headers["content-type"] as string)))
    ) {
      headers.vary = "accept-encoding";
      const enc = req.method === "HEAD" ? undefined : pickEncoding(req.headers["accept-encoding"]);
      if (enc) return writeCompressed(res, status, headers, payload, enc);
    }
    headers["content-length"] ??= length;
  }
  res.writeHead(status, headers);
  res.end(payload);
  return undefined;
}

async function writeCompressed(
  res: ServerResponse,
  status: number,
  headers: Record<string, string | number | string[]>,
  payload: string | Uint8Array,
  enc: Encoding,
) {
  const body = await compress(payload, enc);
  headers["content-encoding"] = enc;
  headers["content-length"] = body.length;
  res.writeHead(status, headers);
  res.end(body);
}

/** Writes the JSON error envelope. Usable by any layer that answers on its own (auth, health, 404). */
export function sendError(
  req: IncomingMessage,
  res: ServerResponse,
  err: unknown,
  extraHeaders?: Record<string, string>,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const { status, body, envelope } = errorBody(err);
  const record = stateOf(req)?.record;
  if (record) record.code = envelope.code;
  const headers: Record<string, string | number> = {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    ...extraHeaders,
  };
  // An error that says when to come back (a full queue) says it to REST clients too, as Connect does on RPC.
  const retryAfter = err instanceof SidecarError ? err.metadata.get("retry-after") : null;
  if (retryAfter !== null) headers["retry-after"] = retryAfter;
  // `Connection` is an HTTP/1-only header; HTTP/2 refuses it.
  if (req.httpVersionMajor !== 1) delete headers.connection;
  res.writeHead(status, headers);
  res.end(body);
}
