/**
 * JSON exchanged with the sandbox. Integers beyond 2^53 travel as strings starting with a per-run marker and
 * become BigInt inside the script (and back), so they stay exact both ways; other integers are plain numbers.
 */
import { randomBytes } from "node:crypto";

/** A marker no script or database string can guess (no NUL: QuickJS strings cross as C strings). */
export function newMark(): string {
  return `@big${randomBytes(8).toString("hex")}:`;
}

export function toMarked(value: unknown, mark: string): string {
  return (
    JSON.stringify(value === undefined ? null : value, (_k, v) => {
      if (typeof v !== "bigint") return v;
      return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(v)
        : mark + v.toString();
    }) ?? "null"
  );
}

export function fromMarked(text: string, mark: string): unknown {
  return JSON.parse(text, (_k, v) => (typeof v === "string" && v.startsWith(mark) ? BigInt(v.slice(mark.length)) : v));
}
