/**
 * The per-request objects of the REST layer. Both are classes with lazy getters rather than object literals:
 * Connect's `createHandlerContext` builds three Headers objects and two linked abort signals per call, and an
 * object literal with getters is rebuilt (and deoptimised) on every request; either costs more than a whole KV
 * lookup. REST rows rarely read any of it, so everything here is made on first use.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import type { Readable } from "node:stream";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { createContextValues, type ContextValues, type HandlerContext } from "@connectrpc/connect";
import { sidecarError } from "../../shared/errors.js";
import { serverStopping } from "../../shared/stopping.js";
import type { RestRequest } from "../../shared/rest-route.js";
import { REQUEST_STATE, type RequestState } from "../policy/request-state.js";

const EMPTY = Buffer.alloc(0);

/** One REST request as the rows see it, and its abort signal (client gone, timeout). */
export class RestCall implements RestRequest {
  body: Buffer = EMPTY;
  json: unknown = undefined;
  private ac: AbortController | undefined;
  private reason: unknown = undefined;
  private q: URLSearchParams | undefined;
  /** The service method the row called first (the `method` label of REST metrics). */
  rpcMethod: string | undefined = undefined;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly service: DescService,
    readonly params: Record<string, string>,
    private readonly qs: string,
    /** The server's stopping signal, handed to the service as the `serverStopping` context value. */
    readonly stopping?: AbortSignal,
    /** Who is calling (identified by the server before the row runs), for the guarded services. */
    readonly state?: RequestState,
  ) {}

  get method(): string {
    return this.req.method ?? "GET";
  }

  get headers(): IncomingHttpHeaders {
    return this.req.headers;
  }

  get stream(): Readable {
    return this.req;
  }

  get query(): URLSearchParams {
    return (this.q ??= new URLSearchParams(this.qs));
  }

  /** Aborted when the client goes away or the request times out. Watching for the client costs a listener per
   * request, so it starts when a row first asks for the signal. */
  get signal(): AbortSignal {
    if (!this.ac) {
      this.ac = new AbortController();
      if (this.reason !== undefined) this.ac.abort(this.reason);
      else if (this.res.writableFinished || this.res.destroyed)
        this.abort(sidecarError("REQUEST_TIMEOUT", "client closed the connection"));
      else {
        this.res.once("close", () => {
          if (!this.res.writableFinished) this.abort(sidecarError("REQUEST_TIMEOUT", "client closed the connection"));
        });
      }
    }
    return this.ac.signal;
  }

  get aborted(): boolean {
    return this.reason !== undefined;
  }

  abort(reason: unknown): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.ac?.abort(reason);
  }

  context(method: DescMethod): HandlerContext {
    this.rpcMethod ??= method.name;
    return new RestHandlerContext(this.service, method, this);
  }
}

class RestHandlerContext implements HandlerContext {
  readonly protocolName = "rest";
  private reqHeader: Headers | undefined;
  private resHeader: Headers | undefined;
  private resTrailer: Headers | undefined;
  private vals: ContextValues | undefined;

  constructor(
    readonly service: DescService,
    readonly method: DescMethod,
    private readonly call: RestCall,
  ) {}

  get requestMethod(): string {
    return this.call.method;
  }

  get url(): string {
    return (this.call.stream as IncomingMessage).url ?? "/";
  }

  get signal(): AbortSignal {
    return this.call.signal;
  }

  timeoutMs(): number | undefined {
    return undefined;
  }

  get requestHeader(): Headers {
    return (this.reqHeader ??= toHeaders(this.call.headers));
  }

  get responseHeader(): Headers {
    return (this.resHeader ??= new Headers());
  }

  get responseTrailer(): Headers {
    return (this.resTrailer ??= new Headers());
  }

  /** Read by the guarded services (policy/guard.ts) without building context values. */
  get requestState(): RequestState | undefined {
    return this.call.state;
  }

  get values(): ContextValues {
    if (!this.vals) {
      this.vals = createContextValues();
      if (this.call.state) this.vals.set(REQUEST_STATE, this.call.state);
      if (this.call.stopping) this.vals.set(serverStopping, this.call.stopping);
    }
    return this.vals;
  }
}

function toHeaders(h: IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined || k.startsWith(":")) continue;
    if (Array.isArray(v)) v.forEach((x) => out.append(k, x));
    else out.set(k, v);
  }
  return out;
}
