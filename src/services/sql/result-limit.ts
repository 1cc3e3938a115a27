/**
 * The bound on one result (`--sql-max-rows`, `--sql-max-result-size`), applied by every backend while rows
 * arrive, so that a query of millions of rows is refused after at most the limit has been read, never after all
 * of it has been loaded.
 */
import { type SidecarError, sidecarError } from "../../shared/errors.js";
import { formatSize } from "../../shared/units.js";
import type { ResultLimits } from "./backend.js";

/** Bytes a value adds to a result: its text or bytes, 8 for a number, 4 for NULL — close to its JSON size. */
export function valueSize(v: unknown): number {
  switch (typeof v) {
    case "string":
      return v.length;
    case "number":
    case "bigint":
    case "boolean":
      return 8;
    case "object":
      if (v === null) return 4;
      if (v instanceof Uint8Array) return Math.ceil(v.byteLength / 3) * 4;
      for (const k in v) return valueSize((v as Record<string, unknown>)[k]);
  }
  return 8;
}

/** Counts a result's rows and bytes; `add` says when the result has gone over. */
export class ResultBudget {
  private rows = 0;
  private bytes = 0;
  /** Bytes the column names add to every row (REST rows are objects keyed by column). */
  private perRow = 0;
  /** Set once the result is over a limit: which one. */
  over: "rows" | "bytes" | undefined;

  constructor(readonly limits: ResultLimits) {}

  columns(names: readonly string[]): void {
    this.perRow = names.reduce((n, c) => n + c.length + 4, 2);
  }

  /** Adds a row of `bytes` (values only); false once the result is over a limit (the row is not to be kept). */
  add(bytes: number): boolean {
    if (this.over) return false;
    this.rows++;
    this.bytes += bytes + this.perRow;
    if (this.rows > this.limits.maxRows) this.over = "rows";
    else if (this.bytes > this.limits.maxBytes) this.over = "bytes";
    return this.over === undefined;
  }

  error(): SidecarError {
    return resultTooLarge(this.limits, this.over ?? "rows");
  }
}

export function resultTooLarge(limits: ResultLimits, over: "rows" | "bytes"): SidecarError {
  return over === "rows"
    ? sidecarError(
        "RESULT_TOO_LARGE",
        `the result has more than ${limits.maxRows} rows, the limit (--sql-max-rows); select fewer rows (LIMIT, a narrower WHERE, or pages)`,
        { limit: "max_rows", max_rows: limits.maxRows },
      )
    : sidecarError(
        "RESULT_TOO_LARGE",
        `the result is larger than ${formatSize(limits.maxBytes)}, the limit (--sql-max-result-size); select fewer rows or columns`,
        { limit: "max_result_size", max_result_bytes: limits.maxBytes },
      );
}
