/**
 * Which of the three wire protocols a unary request speaks, from its Content-Type, and the few facts about each
 * that the fast path needs: whether messages are enveloped, and the names of its compression headers.
 *
 * The regular expressions are connect-es's own (so both paths accept exactly the same media types); the common
 * values are matched as plain strings first. Anything not listed here — Connect streaming types, gRPC-Web text,
 * gRPC over HTTP/1.1 — is left to connect-node.
 */
import { contentTypeUnaryRegExp } from "@connectrpc/connect/protocol-connect";
import { contentTypeRegExp as grpcRegExp } from "@connectrpc/connect/protocol-grpc";
import { contentTypeRegExp as grpcWebRegExp } from "@connectrpc/connect/protocol-grpc-web";

export type ProtocolName = "grpc" | "grpc-web" | "connect";

export interface Wire {
  readonly protocol: ProtocolName;
  /** Protobuf binary (true) or JSON. */
  readonly binary: boolean;
  /** gRPC and gRPC-Web frame each message in a 5-byte envelope; Connect unary sends the bare message. */
  readonly enveloped: boolean;
  readonly contentType: string;
  /** Names of the request-encoding and accept-encoding headers, lower case as Node delivers them. */
  readonly encodingHeader: string;
  readonly acceptEncodingHeader: string;
}

function wire(protocol: ProtocolName, binary: boolean): Wire {
  const enveloped = protocol !== "connect";
  const contentType =
    protocol === "grpc"
      ? binary
        ? "application/grpc+proto"
        : "application/grpc+json"
      : protocol === "grpc-web"
        ? binary
          ? "application/grpc-web+proto"
          : "application/grpc-web+json"
        : binary
          ? "application/proto"
          : "application/json";
  return {
    protocol,
    binary,
    enveloped,
    contentType,
    encodingHeader: enveloped ? "grpc-encoding" : "content-encoding",
    acceptEncodingHeader: enveloped ? "grpc-accept-encoding" : "accept-encoding",
  };
}

const GRPC = wire("grpc", true);
const GRPC_JSON = wire("grpc", false);
const GRPC_WEB = wire("grpc-web", true);
const GRPC_WEB_JSON = wire("grpc-web", false);
const CONNECT = wire("connect", true);
const CONNECT_JSON = wire("connect", false);

/** The protocol of a request, or undefined when the fast path does not serve it. */
export function wireOf(contentType: string | undefined, httpMajor: number): Wire | undefined {
  if (contentType === undefined) return undefined;
  switch (contentType) {
    case "application/grpc":
    case "application/grpc+proto":
      return httpMajor === 2 ? GRPC : undefined;
    case "application/grpc-web":
    case "application/grpc-web+proto":
      return GRPC_WEB;
    case "application/proto":
      return CONNECT;
    case "application/json":
      return CONNECT_JSON;
  }
  if (contentTypeUnaryRegExp.test(contentType)) return /proto$/i.test(contentType) ? CONNECT : CONNECT_JSON;
  let m = grpcWebRegExp.exec(contentType);
  if (m) return m[1] ? undefined : m[2] ? GRPC_WEB_JSON : GRPC_WEB;
  m = grpcRegExp.exec(contentType);
  if (m && httpMajor === 2) return m[1] ? GRPC_JSON : GRPC;
  return undefined;
}
