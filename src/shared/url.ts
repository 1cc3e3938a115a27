/** URL helpers shared by every service's backend registry. */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { redactUrl } from "./redact.js";

/** The lower-cased scheme of a backend URL ("memory" for "memory://"), or "" when there is none. */
export function schemeOf(url: string): string {
  const i = url.indexOf(":");
  return i < 0 ? "" : url.slice(0, i).toLowerCase();
}

/**
 * The filesystem path of a file-like URL: `file:///abs/path`, `file://./rel/path` (relative to the working
 * directory), `lmdb://rel/path`. The query string is not part of the path.
 */
export function filePath(url: string): string {
  const rest = url.slice(url.indexOf("://") + 3).split("?")[0]!;
  if (rest === "") throw new Error(`URL ${JSON.stringify(url)} names no file path`);
  if (url.toLowerCase().startsWith("file:///")) return fileURLToPath(url.split("?")[0]!);
  return resolve(decodeURIComponent(rest));
}

/** The message for an unknown scheme, naming the URL (without credentials) and the accepted schemes. */
export function unsupportedScheme(service: string, url: string, schemes: readonly string[]): Error {
  const shown = redactUrl(url);
  return new Error(
    `unsupported ${service} URL ${JSON.stringify(shown)}: accepted schemes are ${schemes.map((s) => s + "://").join(", ")}`,
  );
}
