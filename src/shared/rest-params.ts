/** Reading and checking REST query parameters and JSON bodies, with messages that name the field. */
import { sidecarError } from "./errors.js";

/** The widest integer any field holds (protobuf int64): the bound of every integer parameter. */
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

interface Bounds {
  min?: bigint;
  max?: bigint;
}

/**
 * An integer query parameter, or `fallback` when absent. Accepts only plain decimal integers; beyond 64 bits is
 * refused like any other out-of-range value (an RPC caller cannot send one either).
 */
export function queryInt(query: URLSearchParams, name: string, fallback: bigint, bounds: Bounds = {}): bigint {
  const raw = query.get(name);
  if (raw === null || raw === "") return fallback;
  if (!/^-?\d+$/.test(raw))
    throw sidecarError("BAD_REQUEST", `query parameter ${name} must be an integer, got ${JSON.stringify(raw)}`);
  return checkBounds(BigInt(raw), `query parameter ${name}`, bounds);
}

function checkBounds(n: bigint, what: string, { min, max }: Bounds): bigint {
  if (n < INT64_MIN || n > INT64_MAX) {
    const shown = String(n).length > 40 ? `${String(n).slice(0, 40)}…` : String(n);
    throw sidecarError("BAD_REQUEST", `${what} must be a 64-bit integer (${INT64_MIN} to ${INT64_MAX}), got ${shown}`);
  }
  if (min !== undefined && n < min) throw sidecarError("BAD_REQUEST", `${what} must be at least ${min}, got ${n}`);
  if (max !== undefined && n > max) throw sidecarError("BAD_REQUEST", `${what} must be at most ${max}, got ${n}`);
  return n;
}

/** The body as a JSON object (not array or scalar), or {} when the body was empty. */
export function jsonObject(json: unknown, what = "request body"): Record<string, unknown> {
  if (json === undefined) return {};
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw sidecarError("BAD_REQUEST", `${what} must be a JSON object`);
  }
  return json as Record<string, unknown>;
}

/** An integer field of a JSON body (number or bigint from exact parsing), or undefined when absent. */
export function jsonInt(obj: Record<string, unknown>, field: string, bounds: Bounds = {}): bigint | undefined {
  const v = obj[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v === "bigint") return checkBounds(v, `field ${field}`, bounds);
  if (typeof v === "number" && Number.isInteger(v)) return checkBounds(BigInt(v), `field ${field}`, bounds);
  throw sidecarError("BAD_REQUEST", `field ${field} must be an integer`);
}

/** A required array field of a JSON body (items unchecked). */
export function jsonArray(obj: Record<string, unknown>, field: string): unknown[] {
  const v = obj[field];
  if (!Array.isArray(v)) throw sidecarError("BAD_REQUEST", `field ${field} must be an array`);
  return v;
}

/** A required array-of-strings field of a JSON body. */
export function jsonStringArray(obj: Record<string, unknown>, field: string): string[] {
  const v = obj[field];
  if (!Array.isArray(v)) throw sidecarError("BAD_REQUEST", `field ${field} must be an array of strings`);
  v.forEach((x, i) => {
    if (typeof x !== "string") throw sidecarError("BAD_REQUEST", `field ${field}[${i}] must be a string`);
  });
  return v as string[];
}

/**
 * A string field of a JSON body. Required unless `optional` (then absent or null reads as ""); `what` is how the
 * field is named in the message (`emails[2].subject`).
 */
export function jsonString(
  obj: Record<string, unknown>,
  field: string,
  { what = field, optional = false }: { what?: string; optional?: boolean } = {},
): string {
  const v = obj[field];
  if (optional && (v === undefined || v === null)) return "";
  if (typeof v !== "string") throw sidecarError("BAD_REQUEST", `field ${what} must be a string`);
  return v;
}
