/**
 * The handler context a REST row passes to the service implementation. Connect's `createHandlerContext` builds
 * three Headers objects and two linked abort signals per call, which costs more than a whole KV lookup; REST rows
 * rarely read any of it, so everything here is built on first use.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { createContextValues, type ContextValues, type HandlerContext } from "@connectrpc/connect";

export function restHandlerContext(
  service: DescService,
  method: DescMethod,
  requestMethod: string,
  url: string,
  headers: IncomingHttpHeaders,
  signal: () => AbortSignal,
): HandlerContext {
  let requestHeader: Headers | undefined;
  let responseHeader: Headers | undefined;
  let responseTrailer: Headers | undefined;
  let values: ContextValues | undefined;
  return {
    service,
    method,
    protocolName: "rest",
    requestMethod,
    url,
    timeoutMs: () => undefined,
    get signal() {
      return signal();
    },
    get requestHeader() {
      return (requestHeader ??= toHeaders(headers));
    },
    get responseHeader() {
      return (responseHeader ??= new Headers());
    },
    get responseTrailer() {
      return (responseTrailer ??= new Headers());
    },
    get values() {
      return (values ??= createContextValues());
    },
  };
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
