/** Callers for policy tests: the same call as REST (fetch), Connect JSON (HTTP/1.1) and gRPC (h2c), with a token. */
import { createHash } from "node:crypto";
import type { DescService } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";

export const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

export interface Reply {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

/** A REST call with `Authorization: Bearer <token>`; the body as JSON (or `{text}` when it is not JSON). */
export async function rest(
  base: string,
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
  raw = false,
): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (body !== undefined && !raw) headers["content-type"] = "application/json";
  const res = await fetch(base + path, {
    method,
    headers,
    body: body === undefined ? undefined : raw ? String(body) : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { text };
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

export type RpcKind = "connect" | "grpc";
export const RPC_KINDS: RpcKind[] = ["connect", "grpc"];

const transports = new Map<string, Transport>();

/** A typed client over Connect JSON on HTTP/1.1 or gRPC on h2c, sending the token as `authorization`. */
export function rpc<S extends DescService>(base: string, kind: RpcKind, service: S, token?: string): Client<S> {
  const key = `${base} ${kind} ${token}`;
  let t = transports.get(key);
  if (!t) {
    const interceptors = token
      ? [
          (next: Parameters<import("@connectrpc/connect").Interceptor>[0]) =>
            (req: Parameters<Parameters<import("@connectrpc/connect").Interceptor>[0]>[0]) => {
              req.header.set("authorization", `Bearer ${token}`);
              return next(req);
            },
        ]
      : [];
    t =
      kind === "connect"
        ? createConnectTransport({ baseUrl: base, httpVersion: "1.1", interceptors })
        : createGrpcTransport({ baseUrl: base, interceptors });
    transports.set(key, t);
  }
  return createClient(service, t);
}

/** The ConnectError a call rejects with (fails the test if it resolves). */
export async function rpcError(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error("expected the call to fail");
}

export { Code };
