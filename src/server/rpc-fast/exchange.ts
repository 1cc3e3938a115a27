/**
 * What the interceptors see (a Connect `UnaryRequest`/`StreamRequest` and the response) and what the
 * implementation sees (a `HandlerContext`), as classes over the call (call.ts) whose costly parts are lazy.
 *
 * Interceptors may hand on a copy of the request (`next({ ...req, header })`): every field of the requests
 * except `signal` is an own property, so a spread keeps them; the one prototype getter, `signal`, is looked up
 * again from the call (`call` is an own property too) when the copy lacks it.
 */
import type {
  DescMessage,
  DescMethodServerStreaming,
  DescMethodUnary,
  DescService,
  MessageShape,
} from "@bufbuild/protobuf";
import type {
  ContextValues,
  HandlerContext,
  StreamRequest,
  StreamResponse,
  UnaryRequest,
  UnaryResponse,
} from "@connectrpc/connect";
import type { Call } from "./call.js";

/** Takes the response metadata of what the interceptors returned: ours is the call's already. */
export function adoptResponse(call: Call, res: UnaryResponse | StreamResponse): void {
  if ((res instanceof FastResponse || res instanceof FastStreamResponse) && res.call === call) return;
  call.replaceResponseMetadata(res.header, res.trailer);
}

/** The request as Connect interceptors see it. */
export class FastRequest<I extends DescMessage = DescMessage, O extends DescMessage = DescMessage>
  implements UnaryRequest<I, O>
{
  readonly stream = false as const;
  readonly header: Headers;
  readonly url: string;
  readonly requestMethod: string;
  readonly contextValues: ContextValues;
  readonly service: DescService;

  constructor(
    readonly call: Call,
    readonly method: DescMethodUnary<I, O>,
    readonly message: UnaryRequest<I, O>["message"],
  ) {
    this.header = call.header;
    this.url = call.url;
    this.requestMethod = call.requestMethod;
    this.contextValues = call.values;
    this.service = method.parent;
  }

  get signal(): AbortSignal {
    return this.call.signal;
  }
}

/** The response as Connect interceptors see it; header and trailer are the call's, made when first read. */
export class FastResponse<I extends DescMessage = DescMessage, O extends DescMessage = DescMessage>
  implements UnaryResponse<I, O>
{
  readonly stream = false as const;
  readonly service: DescService;

  constructor(
    readonly call: Call,
    readonly method: DescMethodUnary<I, O>,
    readonly message: UnaryResponse<I, O>["message"],
  ) {
    this.service = method.parent;
  }

  get header(): Headers {
    return this.call.responseHeader;
  }
  get trailer(): Headers {
    return this.call.responseTrailer;
  }
}

/** A server-streaming request as interceptors see it: the one input message as an async iterable. */
export class FastStreamRequest<I extends DescMessage = DescMessage, O extends DescMessage = DescMessage>
  implements StreamRequest<I, O>
{
  readonly stream = true as const;
  readonly header: Headers;
  readonly url: string;
  readonly requestMethod: string;
  readonly contextValues: ContextValues;
  readonly service: DescService;
  readonly message: AsyncIterable<MessageShape<I>>;

  constructor(
    readonly call: Call,
    readonly method: DescMethodServerStreaming<I, O>,
    input: MessageShape<I>,
  ) {
    this.header = call.header;
    this.url = call.url;
    this.requestMethod = call.requestMethod;
    this.contextValues = call.values;
    this.service = method.parent;
    this.message = (async function* () {
      yield input;
    })();
  }

  get signal(): AbortSignal {
    return this.call.signal;
  }
}

export class FastStreamResponse<I extends DescMessage = DescMessage, O extends DescMessage = DescMessage>
  implements StreamResponse<I, O>
{
  readonly stream = true as const;
  readonly service: DescService;

  constructor(
    readonly call: Call,
    readonly method: DescMethodServerStreaming<I, O>,
    readonly message: AsyncIterable<MessageShape<O>>,
  ) {
    this.service = method.parent;
  }

  get header(): Headers {
    return this.call.responseHeader;
  }
  get trailer(): Headers {
    return this.call.responseTrailer;
  }
}

/** What the service implementation receives; the request side comes from the (possibly replaced) request. */
export class FastHandlerContext implements HandlerContext {
  readonly service: DescService;

  constructor(
    private readonly call: Call,
    private readonly req: UnaryRequest | StreamRequest,
  ) {
    this.service = req.service ?? req.method.parent;
  }

  get protocolName(): string {
    return this.call.protocolName;
  }

  get method() {
    return this.req.method;
  }
  get signal(): AbortSignal {
    return this.req.signal ?? this.call.signal;
  }
  get requestHeader(): Headers {
    return this.req.header ?? this.call.header;
  }
  get values(): ContextValues {
    return this.req.contextValues ?? this.call.values;
  }
  get requestMethod(): string {
    return this.call.requestMethod;
  }
  get url(): string {
    return this.call.url;
  }
  get responseHeader(): Headers {
    return this.call.responseHeader;
  }
  get responseTrailer(): Headers {
    return this.call.responseTrailer;
  }
  timeoutMs(): number | undefined {
    return this.call.timeoutMs();
  }
}
