/** What tests need to call a ServiceImpl directly: a handler context, and the Connect code a call ends with. */
import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createHandlerContext, type HandlerContext } from "@connectrpc/connect";

/**
 * A handler context for `method` of `service`, as the RPC router would make one (protocol "test").
 * @example await kv.get(create(pb.GetRequestSchema, { key }), handlerContext(pb.KvService, "get"))
 */
export function handlerContext<S extends DescService>(
  service: S,
  method: keyof S["method"] & string,
  signal: AbortSignal = new AbortController().signal,
): HandlerContext {
  return createHandlerContext({
    service,
    method: service.method[method]!,
    protocolName: "test",
    requestMethod: "POST",
    url: `/${service.typeName}/${method}`,
    requestSignal: signal,
  });
}

/** The Connect code `p` rejects with, "ok" when it resolves, Unknown for anything that is not a ConnectError. */
export async function codeOf(p: unknown): Promise<Code | "ok"> {
  try {
    await p;
    return "ok";
  } catch (err) {
    return err instanceof ConnectError ? err.code : Code.Unknown;
  }
}
