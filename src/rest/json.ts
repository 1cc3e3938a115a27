/**
 * JSON that keeps 64-bit integers exact in both directions, since a JS double silently rounds past 2^53.
 * Responses: bigint values are written as bare JSON numbers. Requests: integers that do not fit a double
 * arrive as bigint; everything else as the usual JS values.
 */
import { isSafeNumber, parse as parseLossless } from "lossless-json";
import { randomBytes } from "node:crypto";

// A marker no client string can produce, because it embeds a per-process random nonce.
const nonce = randomBytes(6).toString("hex");
const marker = new RegExp(`"@big${nonce}:(-?\\d+)"`, "g");

/** JSON.stringify that writes bigint as an exact JSON number. */
export function stringifyExact(value: unknown): string {
  let sawBig = false;
  const text = JSON.stringify(value, (_k, v) => {
    if (typeof v === "bigint") {
      sawBig = true;
      return `@big${nonce}:${v.toString()}`;
    }
    return v;
  });
  return sawBig ? text.replace(marker, "$1") : text;
}

/** A number, or bigint for integers beyond the exact range of a double. */
function parseNumber(text: string): number | bigint {
  if (isSafeNumber(text)) return Number(text);
  if (/^-?\d+$/.test(text)) return BigInt(text);
  return Number(text);
}

/** JSON.parse that keeps large integers exact (as bigint). Throws SyntaxError on bad JSON. */
export function parseExact(text: string): unknown {
  return parseLossless(text, null, parseNumber);
}
