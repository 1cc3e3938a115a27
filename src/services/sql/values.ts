/**
 * Conversions of `SqlValue` to and from its two wire forms: the protobuf `Value` (RPC) and the JSON view that
 * REST clients and scripts see (integers exact, numeric as a string, bytes as base64, json as JSON).
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Value, ValueSchema } from "../../../gen/mikcar/sql/v1/sql_pb.js";
import { sidecarError } from "../../shared/errors.js";
import { parseExact, stringifyExact } from "../../shared/exact-json.js";
import { isDatetime, isDecimal, type SqlValue } from "./backend.js";

type PbValueInit = MessageInitShape<typeof ValueSchema>;
const NULL: PbValueInit = {};

export function pbOfValue(v: SqlValue): PbValueInit {
  switch (typeof v) {
    case "boolean":
      return { kind: { case: "boolValue", value: v } };
    case "bigint":
      return { kind: { case: "intValue", value: v } };
    case "number":
      return { kind: { case: "doubleValue", value: v } };
    case "string":
      return { kind: { case: "textValue", value: v } };
  }
  if (v === null) return NULL;
  if (v instanceof Uint8Array) return { kind: { case: "bytesValue", value: v } };
  if (isDecimal(v)) return { kind: { case: "decimalValue", value: v.decimal } };
  if (isDatetime(v)) return { kind: { case: "datetimeValue", value: v.datetime } };
  return { kind: { case: "jsonValue", value: v.json } };
}

/** Accepts a decoded message or the plain init object a service method returns (REST calls it directly). */
export function valueOfPb(v: Value | PbValueInit): SqlValue {
  const k = v.kind;
  switch (k?.case) {
    case undefined:
      return null;
    case "boolValue":
    case "intValue":
    case "doubleValue":
    case "textValue":
    case "bytesValue":
      return k!.value as SqlValue;
    case "decimalValue":
      return { decimal: k!.value as string };
    case "jsonValue":
      return { json: k!.value as string };
    case "datetimeValue":
      return { datetime: k!.value as string };
  }
}

/** The JSON view of a value: what REST responses and scripts get. No type becomes null. */
export function jsonOfValue(v: SqlValue): unknown {
  switch (typeof v) {
    case "boolean":
    case "bigint":
    case "string":
      return v;
    case "number":
      // JSON has no NaN or infinities; their names keep the value visible instead of turning it into null.
      return Number.isFinite(v) ? v : String(v);
  }
  if (v === null) return null;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64");
  if (isDecimal(v)) return v.decimal;
  if (isDatetime(v)) return v.datetime;
  return parseExact(v.json);
}

/**
 * A parameter from JSON: integers (bigint, or a number within 2^53) bind as integers, other numbers as doubles, objects and
 * arrays as JSON text. `field` names the parameter in errors.
 */
export function valueOfJson(v: unknown, field: string): SqlValue {
  switch (typeof v) {
    case "boolean":
    case "bigint":
    case "string":
      return v;
    case "number":
      // An integer past 2^53 that arrived as a JS number was written as a double (1e20, 1.0e19): a bigint from it
      // would be a made-up exact value, and too big for a 64-bit column anyway.
      return Number.isSafeInteger(v) ? BigInt(v) : v;
    case "object":
      return v === null ? null : { json: stringifyExact(v) };
  }
  throw sidecarError("BAD_REQUEST", `${field} must be a JSON value`);
}

/** Rows as objects keyed by column name, in column order. */
export function rowObjects(columns: readonly string[], rows: readonly SqlValue[][]): Record<string, unknown>[] {
  return rows.map((row) => {
    const o: Record<string, unknown> = {};
    columns.forEach((c, i) => (o[c] = jsonOfValue(row[i] ?? null)));
    return o;
  });
}
