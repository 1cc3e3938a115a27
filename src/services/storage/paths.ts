/**
 * Object path rules, the same on every backend. Checked on the path as received (after one percent-decoding by
 * the router), so "%2e%2e", "a/../b" and "..\\x" are all refused rather than resolved into something else. The
 * one normalisation is mikcar's: a leading "./" is dropped, so "./file.txt" names the object "file.txt".
 */
import { sidecarError } from "../../shared/errors.js";

export const MAX_PATH_BYTES = 1024;
/** Where the file backend keeps metadata and temp files; no backend accepts paths under it. */
export const RESERVED_PREFIX = ".mikcar";

/** Drops leading "./" segments; whatever follows is checked as it stands ("./../x" is still traversal). */
function withoutCurrentDir(path: string): string {
  let p = path;
  while (p.startsWith("./")) p = p.slice(2);
  return p;
}

/**
 * The object path `path` names, ready for the backend; throws BAD_REQUEST unless it is usable. `field` names it
 * in messages.
 */
export function objectPath(path: string, field = "path"): string {
  const p = withoutCurrentDir(path);
  if (p.length === 0) throw sidecarError("BAD_REQUEST", `${field} must not be empty`);
  checkCommon(p, field);
  return p;
}

/** A list prefix: like a path but may be empty and may end with "/" (which is dropped). Returns it normalised. */
export function listPrefix(prefix: string, field = "prefix"): string {
  const stripped = withoutCurrentDir(prefix);
  const p = stripped.endsWith("/") ? stripped.slice(0, -1) : stripped;
  if (p === "") {
    if (stripped === "/") throw sidecarError("BAD_REQUEST", "Absolute paths not allowed");
    return "";
  }
  checkCommon(p, field);
  return p;
}

function checkCommon(path: string, field: string): void {
  // The order and wording of the first three match mikcar's messages (API.md).
  if (path.includes("\0")) throw sidecarError("BAD_REQUEST", "Null bytes not allowed in path");
  if (path.startsWith("/") || path.startsWith("\\") || /^[A-Za-z]:([\\/]|$)/.test(path)) {
    throw sidecarError("BAD_REQUEST", "Absolute paths not allowed");
  }
  // Backslash counts as a separator here so that Windows-style "..\\" is refused too.
  const segments = path.split(/[\\/]/);
  if (segments.includes("..")) throw sidecarError("BAD_REQUEST", "Path traversal not allowed");
  const bytes = Buffer.byteLength(path, "utf8");
  if (bytes > MAX_PATH_BYTES)
    throw sidecarError("BAD_REQUEST", `${field} is ${bytes} bytes; the limit is ${MAX_PATH_BYTES}`);
  if (!path.isWellFormed()) throw sidecarError("BAD_REQUEST", `${field} is not valid UTF-8`);
  for (const s of path.split("/")) {
    // Empty and "." segments would name the same file as another path on the file backend; only a leading "./"
    // is taken away (above), as mikcar does.
    if (s === "" || s === ".") throw sidecarError("BAD_REQUEST", `${field} must not contain empty or "." segments`);
  }
  if (segments[0] === RESERVED_PREFIX)
    throw sidecarError("BAD_REQUEST", `${field} must not be under the reserved ${RESERVED_PREFIX}/ prefix`);
  if (/[\x01-\x1f\x7f]/.test(path)) throw sidecarError("BAD_REQUEST", `${field} must not contain control characters`);
}
