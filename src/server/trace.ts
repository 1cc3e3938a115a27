/** Request correlation: every response carries `x-trace-id`, taken from the request when it is sane. */
import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

// Visible ASCII only and bounded, so a client cannot inject header or log garbage through it.
const VALID = /^[\x21-\x7e]{1,128}$/;
const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

export interface Trace {
  traceId: string;
  traceparent?: string;
}

/** Picks the trace id: `x-trace-id` if valid, else the trace id of a valid W3C `traceparent`, else a new UUID. */
export function traceOf(headers: IncomingHttpHeaders): Trace {
  const given = headers["x-trace-id"];
  const tp = headers.traceparent;
  const traceparent = typeof tp === "string" && TRACEPARENT.test(tp) ? tp : undefined;
  if (typeof given === "string" && VALID.test(given)) return { traceId: given, traceparent };
  if (traceparent) return { traceId: TRACEPARENT.exec(traceparent)![1]!, traceparent };
  return { traceId: randomUUID() };
}
