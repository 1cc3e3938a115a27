/**
 * The error catalogue: every error kind the sidecar sends, with its Connect code (gRPC/Connect clients) and
 * its REST status + envelope code (plain HTTP clients). Services throw `sidecarError(kind, message)`; the RPC
 * layer carries the Connect code natively and the REST layer turns the same error into the JSON envelope.
 */
import { Code, ConnectError } from "@connectrpc/connect";

export interface ErrorKind {
  /** Envelope code in REST responses (`{"code": ...}`). */
  readonly code: string;
  readonly connect: Code;
  readonly status: number;
}

export const ErrorKinds = {
  BAD_REQUEST: { code: "BAD_REQUEST", connect: Code.InvalidArgument, status: 400 },
  UNAUTHORIZED: { code: "UNAUTHORIZED", connect: Code.Unauthenticated, status: 401 },
  FORBIDDEN: { code: "FORBIDDEN", connect: Code.PermissionDenied, status: 403 },
  /** A policy refused the call (docs/policy.md). */
  PERMISSION_DENIED: { code: "PERMISSION_DENIED", connect: Code.PermissionDenied, status: 403 },
  NOT_FOUND: { code: "NOT_FOUND", connect: Code.NotFound, status: 404 },
  METHOD_NOT_ALLOWED: { code: "METHOD_NOT_ALLOWED", connect: Code.Unimplemented, status: 405 },
  REQUEST_TIMEOUT: { code: "REQUEST_TIMEOUT", connect: Code.DeadlineExceeded, status: 408 },
  CONFLICT: { code: "CONFLICT", connect: Code.FailedPrecondition, status: 409 },
  ALREADY_EXISTS: { code: "CONFLICT", connect: Code.AlreadyExists, status: 409 },
  PRECONDITION_FAILED: { code: "PRECONDITION_FAILED", connect: Code.FailedPrecondition, status: 412 },
  PAYLOAD_TOO_LARGE: { code: "PAYLOAD_TOO_LARGE", connect: Code.ResourceExhausted, status: 413 },
  UNSUPPORTED_MEDIA_TYPE: { code: "UNSUPPORTED_MEDIA_TYPE", connect: Code.InvalidArgument, status: 415 },
  RANGE_NOT_SATISFIABLE: { code: "RANGE_NOT_SATISFIABLE", connect: Code.OutOfRange, status: 416 },
  HEADERS_TOO_LARGE: { code: "HEADERS_TOO_LARGE", connect: Code.InvalidArgument, status: 431 },
  SQL_ERROR: { code: "SQL_ERROR", connect: Code.InvalidArgument, status: 400 },
  SQL_CONFLICT: { code: "SQL_ERROR", connect: Code.AlreadyExists, status: 409 },
  SCRIPT_ERROR: { code: "SCRIPT_ERROR", connect: Code.Aborted, status: 422 },
  // A query asked for more rows or bytes than the server hands out: the caller's to narrow, never retried as-is.
  RESULT_TOO_LARGE: { code: "RESULT_TOO_LARGE", connect: Code.ResourceExhausted, status: 400 },
  TOO_MANY_REQUESTS: { code: "TOO_MANY_REQUESTS", connect: Code.ResourceExhausted, status: 429 },
  /** A rate limit (per token or server-wide) refused the call; carries `retry_after` seconds. */
  RATE_LIMITED: { code: "RESOURCE_EXHAUSTED", connect: Code.ResourceExhausted, status: 429 },
  INTERNAL_ERROR: { code: "INTERNAL_ERROR", connect: Code.Internal, status: 500 },
  NOT_IMPLEMENTED: { code: "NOT_IMPLEMENTED", connect: Code.Unimplemented, status: 501 },
  BAD_GATEWAY: { code: "BAD_GATEWAY", connect: Code.Unavailable, status: 502 },
  UNAVAILABLE: { code: "UNAVAILABLE", connect: Code.Unavailable, status: 503 },
  GATEWAY_TIMEOUT: { code: "GATEWAY_TIMEOUT", connect: Code.DeadlineExceeded, status: 504 },
} as const satisfies Record<string, ErrorKind>;

export type ErrorKindName = keyof typeof ErrorKinds;

/** A ConnectError that also remembers its REST shape, so both layers report the same error. */
export class SidecarError extends ConnectError {
  // ConnectError's own instanceof test looks at `name` ("ConnectError", which we keep so that Connect carries
  // our code and message) and at the exact prototype; ours must follow the prototype chain instead.
  static override [Symbol.hasInstance](v: unknown): boolean {
    return typeof v === "object" && v !== null && Object.prototype.isPrototypeOf.call(SidecarError.prototype, v);
  }

  constructor(
    readonly kind: ErrorKind,
    message: string,
    /** Extra fields merged into the REST envelope (e.g. `sqlstate`, `statement`). */
    readonly extra: Record<string, unknown> = {},
    cause?: unknown,
  ) {
    super(message, kind.connect, undefined, undefined, cause);
  }
}

/** Creates an error of a catalogued kind. @example throw sidecarError("NOT_FOUND", `key not found: ${key}`) */
export function sidecarError(
  kind: ErrorKindName,
  message: string,
  details?: Record<string, unknown>,
  cause?: unknown,
): SidecarError {
  return new SidecarError(ErrorKinds[kind], message, details, cause);
}

// Connect code → REST kind for errors that did not come from the catalogue (e.g. ConnectError thrown by a library).
const byConnectCode = new Map<Code, ErrorKind>([
  [Code.InvalidArgument, ErrorKinds.BAD_REQUEST],
  [Code.OutOfRange, ErrorKinds.BAD_REQUEST],
  [Code.Unauthenticated, ErrorKinds.UNAUTHORIZED],
  [Code.PermissionDenied, ErrorKinds.FORBIDDEN],
  [Code.NotFound, ErrorKinds.NOT_FOUND],
  [Code.AlreadyExists, ErrorKinds.ALREADY_EXISTS],
  [Code.Aborted, ErrorKinds.CONFLICT],
  [Code.FailedPrecondition, ErrorKinds.CONFLICT],
  [Code.ResourceExhausted, ErrorKinds.TOO_MANY_REQUESTS],
  [Code.Unimplemented, ErrorKinds.NOT_IMPLEMENTED],
  [Code.Unavailable, ErrorKinds.UNAVAILABLE],
  [Code.DeadlineExceeded, ErrorKinds.GATEWAY_TIMEOUT],
  [Code.Canceled, ErrorKinds.REQUEST_TIMEOUT],
]);

export interface Envelope {
  code: string;
  error: string;
  status: number;
  [extra: string]: unknown;
}

/**
 * The REST envelope for any thrown value. Unknown errors become a generic 500 whose message never includes the
 * underlying error text (it may carry a connection string); the caller logs the original.
 */
export function toEnvelope(err: unknown): Envelope {
  if (err instanceof SidecarError) {
    return { ...err.extra, code: err.kind.code, error: err.rawMessage, status: err.kind.status };
  }
  if (err instanceof ConnectError) {
    const kind = byConnectCode.get(err.code) ?? ErrorKinds.INTERNAL_ERROR;
    const message = kind === ErrorKinds.INTERNAL_ERROR ? "internal error" : err.rawMessage;
    return { code: kind.code, error: message, status: kind.status };
  }
  return { code: "INTERNAL_ERROR", error: "internal error", status: 500 };
}

/**
 * True for errors that are the sidecar's fault or a backend's, which deserve a log line: a 5xx of the catalogue.
 * A plain DEADLINE_EXCEEDED from the protocol layer is the client's own deadline running out, not a fault.
 */
export function isServerSide(err: unknown): boolean {
  if (!(err instanceof SidecarError) && err instanceof ConnectError && err.code === Code.DeadlineExceeded) return false;
  return toEnvelope(err).status >= 500;
}
