/**
 * One row of the REST table: a path under a service prefix, mapped onto the service implementation.
 * Rows call the same `ServiceImpl` methods the RPC router serves, with a handler context made in-process.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { Readable } from "node:stream";
import type { DescMethod } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";

export type HttpMethod = "GET" | "HEAD" | "POST" | "PUT" | "DELETE" | "PATCH";

export interface RestRequest {
  method: string;
  /** Decoded path parameters; a `*` wildcard arrives as `params["*"]`. */
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The buffered body, for rows with `body: "raw"` or `"json"`. */
  body: Buffer;
  /** The parsed body, for rows with `body: "json"` (large integers as bigint). */
  json: unknown;
  /** The unread body stream, for rows with `body: "stream"`. */
  stream: Readable;
  /** Aborted when the client goes away or the request times out. */
  signal: AbortSignal;
  /** A handler context for calling `method` of the service implementation directly. */
  context(method: DescMethod): HandlerContext;
}

export interface RestResponse {
  status?: number;
  headers?: Record<string, string | number | string[]>;
  /** Serialised with exact 64-bit integers. */
  json?: unknown;
  body?: Uint8Array | string;
  stream?: AsyncIterable<Uint8Array>;
  /**
   * Called once the response is over: true when it was written in full (handed to the OS), false when the
   * client went away or writing failed. Lets a row settle what it handed out (e.g. auto-acked queue messages).
   */
  onFinish?(ok: boolean): void;
}

export interface RestRoute {
  method: HttpMethod;
  /** find-my-way syntax, relative to the service prefix: `/get/:key`, `/object/*`. */
  path: string;
  /**
   * How the body is read before `handle` runs: not at all, buffered (bounded by the body limit), buffered and
   * parsed as JSON (415 unless the content type is JSON), or left as a stream for the row to consume.
   */
  body: "none" | "raw" | "json" | "stream";
  /** The row bounds its own time (streams, long-polls): no 408 from the server while it runs. */
  untimed?: boolean;
  handle(req: RestRequest): Promise<RestResponse>;
}
