/**
 * Typed options: what a service (or the server) accepts beyond its URL, declared as data and parsed by one
 * function. The CLI reads flag, then environment, then default; the library hands in values directly. Either way
 * a value reaches the service already typed (sizes in bytes, durations in ms) and within its bounds.
 */
import {
  type DurationUnit,
  formatDuration,
  formatSize,
  OptionError,
  parseDuration,
  parseSize,
  type SizeUnit,
} from "./units.js";

interface Common {
  /** Environment variable(s) read when the flag is absent, first set wins. */
  env?: string | readonly string[];
  description: string;
}

export type OptionSpec =
  | (Common & { type: "string"; default?: string; choices?: readonly string[] })
  | (Common & { type: "boolean"; default?: boolean })
  | (Common & { type: "integer"; min: number; max: number; default?: number })
  | (Common & { type: "size"; min?: number; max?: number; default?: number; bare?: SizeUnit })
  | (Common & { type: "duration"; min?: number; max?: number; default?: number; bare?: DurationUnit });

/** A parsed value: text, a flag, an integer, bytes or milliseconds. */
export type OptionValue = string | boolean | number;

/** What the library accepts for an option: its typed value, or text as a flag or variable would give it. */
export type OptionInput = OptionValue | undefined;

const TRUE = /^(1|true|yes|on)$/i;
const FALSE = /^(0|false|no|off)$/i;

/** One value checked against its spec; `what` names the flag or variable in errors. */
export function parseOption(spec: OptionSpec, raw: OptionValue, what: string): OptionValue {
  switch (spec.type) {
    case "string":
      if (spec.choices && !spec.choices.includes(String(raw))) {
        throw new OptionError(`${what} must be one of ${spec.choices.join(", ")}; got ${JSON.stringify(raw)}`);
      }
      return String(raw);
    case "boolean":
      if (typeof raw === "boolean") return raw;
      if (TRUE.test(String(raw))) return true;
      if (FALSE.test(String(raw))) return false;
      throw new OptionError(`${what} must be true or false; got ${JSON.stringify(raw)}`);
    case "integer": {
      const n = typeof raw === "number" ? raw : /^-?\d+$/.test(String(raw).trim()) ? Number(raw) : Number.NaN;
      if (!Number.isSafeInteger(n) || n < spec.min || n > spec.max) {
        throw new OptionError(`${what} must be an integer from ${spec.min} to ${spec.max}; got ${JSON.stringify(raw)}`);
      }
      return n;
    }
    case "size": {
      const n = typeof raw === "number" ? raw : parseSize(String(raw), what, spec.bare);
      bounded(n, spec.min, spec.max, what, formatSize);
      return n;
    }
    case "duration": {
      const n = typeof raw === "number" ? raw : parseDuration(String(raw), what, spec.bare);
      bounded(n, spec.min, spec.max, what, formatDuration);
      return n;
    }
  }
}

function bounded(
  n: number,
  min: number | undefined,
  max: number | undefined,
  what: string,
  show: (n: number) => string,
) {
  if (min !== undefined && n < min) throw new OptionError(`${what} must be at least ${show(min)}; got ${show(n)}`);
  if (max !== undefined && n > max) throw new OptionError(`${what} must be at most ${show(max)}; got ${show(n)}`);
}

/**
 * Every option of `specs` resolved: the given value (parsed if text), else the default. `flagOf` names an
 * option in messages (`--sql-pool-size`).
 */
export function resolveOptions(
  specs: Readonly<Record<string, OptionSpec>>,
  given: Readonly<Record<string, OptionInput>>,
  flagOf: (name: string) => string,
): Record<string, OptionValue | undefined> {
  const out: Record<string, OptionValue | undefined> = {};
  for (const name of Object.keys(given)) {
    if (!(name in specs)) {
      throw new OptionError(
        `unknown option ${flagOf(name)}: known options are ${Object.keys(specs).map(flagOf).join(", ") || "none"}`,
      );
    }
  }
  for (const [name, spec] of Object.entries(specs)) {
    const raw = given[name];
    out[name] = raw === undefined || raw === "" ? spec.default : parseOption(spec, raw, flagOf(name));
  }
  return out;
}

/** How an option's default reads in help ("10MiB", "30s", "5"). */
export function showDefault(spec: OptionSpec): string | undefined {
  if (spec.default === undefined) return undefined;
  if (spec.type === "size") return formatSize(spec.default);
  if (spec.type === "duration") return formatDuration(spec.default);
  return String(spec.default);
}

/** The kind of value an option takes, for help ("SIZE", "DURATION", "N"). */
export function valueHint(spec: OptionSpec): string {
  switch (spec.type) {
    case "boolean":
      return "";
    case "integer":
      return ` N(${spec.min}-${spec.max})`;
    case "size":
      return ` SIZE${spec.bare && spec.bare !== "bytes" ? `(bare: ${spec.bare})` : ""}`;
    case "duration":
      return ` DURATION${spec.bare === "ms" ? "(bare: ms)" : ""}`;
    default:
      return spec.choices ? ` ${spec.choices.join("|")}` : " TEXT";
  }
}

/** The environment variables of an option, in the order they are read. */
export function envNames(spec: { env?: string | readonly string[] }): readonly string[] {
  return spec.env === undefined ? [] : typeof spec.env === "string" ? [spec.env] : spec.env;
}
