/**
 * Response compression for REST: gzip or Brotli for the sidecar's JSON answers at or above a size threshold,
 * when the client's `Accept-Encoding` allows it. Never for stored bytes (objects, KV values: their type is the
 * caller's and they may be compressed already) or for Range responses.
 */
import { promisify } from "node:util";
import { brotliCompress, constants, gzip } from "node:zlib";

const brotli = promisify(brotliCompress);
const gz = promisify(gzip);

export type Encoding = "br" | "gzip";

// Brotli's default quality (11) costs ~50x gzip's CPU for a few percent; 5 is about gzip's speed and smaller.
const BROTLI_OPTIONS = { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } };

/** JSON (and JSON lines); everything else is left as it is. */
export function compressible(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const t = contentType.split(";", 1)[0]!.trim().toLowerCase();
  return t === "application/json" || t.endsWith("+json") || t === "application/x-ndjson";
}

/** The encoding to use for an `Accept-Encoding` value: Brotli when at least as welcome as gzip, else gzip. */
export function pickEncoding(accept: string | undefined): Encoding | undefined {
  if (!accept) return undefined;
  let br = -1;
  let gzipQ = -1;
  let star = -1;
  for (const part of accept.split(",")) {
    const [name, ...params] = part.trim().toLowerCase().split(";");
    let q = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/.exec(p);
      if (m) q = Number(m[1]);
    }
    if (!Number.isFinite(q)) continue;
    if (name === "br") br = q;
    else if (name === "gzip" || name === "x-gzip") gzipQ = q;
    else if (name === "*") star = q;
  }
  if (br < 0) br = star;
  if (gzipQ < 0) gzipQ = star;
  if (br > 0 && br >= gzipQ) return "br";
  if (gzipQ > 0) return "gzip";
  return undefined;
}

export function compress(body: string | Uint8Array, enc: Encoding): Promise<Buffer> {
  return enc === "br" ? brotli(body, BROTLI_OPTIONS) : gz(body);
}
