/**
 * Sizes and durations as people write them. Every size option and every duration option of the sidecar goes
 * through these two functions, so `--max-body-size 10MB` and `--storage-max-object-size 10MB` mean the same.
 */

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4,
};

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** The unit a bare number is read in: kept per option so that old configurations keep their meaning. */
export type SizeUnit = "bytes" | "KiB" | "MiB";
export type DurationUnit = "ms" | "s";

/** Thrown for a value that is not what the option accepts; the message names the option. */
export class OptionError extends Error {
  override name = "OptionError";
}

/**
 * Bytes in a size: "512KiB", "10MB" (decimal), "5G" (binary), or a bare number in `bare` units.
 * @example parseSize("10MiB", "--max-body-size") === 10485760
 */
export function parseSize(text: string, what: string, bare: SizeUnit = "bytes"): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = m ? (m[2] === "" ? (SIZE_UNITS[bare.toLowerCase()] ?? 1) : SIZE_UNITS[m[2]!.toLowerCase()]) : undefined;
  if (!m || unit === undefined) {
    throw new OptionError(
      `${what} must be a size such as 512KiB, 10MB or 5GiB (a bare number is ${bare}); got ${JSON.stringify(text)}`,
    );
  }
  const n = Math.floor(Number(m[1]) * unit);
  if (!Number.isSafeInteger(n)) throw new OptionError(`${what} is too large: ${JSON.stringify(text)}`);
  return n;
}

/**
 * Milliseconds in a duration: "500ms", "30s", "5m", "1h", or a bare number in `bare` units.
 * @example parseDuration("5m", "--request-timeout") === 300000
 */
export function parseDuration(text: string, what: string, bare: DurationUnit = "s"): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/i.exec(text.trim());
  if (!m) {
    throw new OptionError(
      `${what} must be a duration such as 500ms, 30s or 5m (a bare number is in ${bare === "s" ? "seconds" : "milliseconds"}); got ${JSON.stringify(text)}`,
    );
  }
  const n = Math.round(Number(m[1]) * DURATION_UNITS[(m[2] ?? bare).toLowerCase()]!);
  if (!Number.isSafeInteger(n)) throw new OptionError(`${what} is too long: ${JSON.stringify(text)}`);
  return n;
}

/** "10485760" → "10MiB": sizes in help and error messages, in the largest binary unit that divides them. */
export function formatSize(bytes: number): string {
  for (const [unit, f] of [
    ["GiB", 1024 ** 3],
    ["MiB", 1024 ** 2],
    ["KiB", 1024],
  ] as const) {
    if (bytes >= f && bytes % f === 0) return `${bytes / f}${unit}`;
  }
  return `${bytes}B`;
}

/** 30000 → "30s": durations in help and error messages. */
export function formatDuration(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1000 && ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
