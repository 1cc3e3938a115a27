/**
 * The one error and logging policy of the server, for REST and RPC alike: which failures are logged (those that
 * are the sidecar's or a backend's fault: 5xx in the catalogue, whatever protocol carried them), how an error
 * reads on the wire (the catalogue's envelope; anything uncatalogued is a bare "internal error"), and the
 * timeout every path reports.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { type Envelope, isServerSide, type SidecarError, sidecarError, toEnvelope } from "../shared/errors.js";
import { stringifyExact } from "../shared/exact-json.js";
import { describeError, type Logger } from "../shared/log.js";

/** The error of a request that ran past the server's request timeout (408 / DEADLINE_EXCEEDED). */
export function requestTimeout(ms: number): SidecarError {
  return sidecarError("REQUEST_TIMEOUT", `request took longer than ${ms} ms`);
}

/** Logs `err` under `event` when it is a server-side failure; client mistakes are the client's to see. */
export function logFailure(log: Logger, event: string, fields: Record<string, unknown>, err: unknown): void {
  if (isServerSide(err)) log.error(event, { ...fields, ...describeError(err) });
}

/** The JSON envelope of `err` and its HTTP status, ready to write (and the envelope, for headers and logs). */
export function errorBody(err: unknown): { status: number; body: string; envelope: Envelope } {
  const env = toEnvelope(err);
  return { status: env.status, body: stringifyExact(env), envelope: env };
}

/**
 * The error an RPC client sees: catalogued errors and ConnectErrors as they are; anything else (a driver's
 * error, which may name a host or a user) becomes a bare INTERNAL after it was logged.
 */
export function toRpcError(err: unknown): ConnectError {
  return err instanceof ConnectError ? err : new ConnectError("internal error", Code.Internal);
}

/** How a request message that does not decode reads, on every RPC path (INVALID_ARGUMENT). */
export function undecodableRequest(typeName: string, detail: string): ConnectError {
  return new ConnectError(`request is not a valid ${typeName} message: ${detail}`, Code.InvalidArgument);
}
