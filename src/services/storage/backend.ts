/**
 * The storage backend interface. Backends store byte streams under validated paths (see `paths.ts`) and give
 * identical semantics, checked by one contract suite. Validation and limits live in the service, not here.
 */
import { createHash, type Hash } from "node:crypto";
import { compareUtf8 } from "../../shared/utf8-order.js";

export interface ObjectMeta {
  path: string;
  size: number;
  /** Quoted, as HTTP sends it. */
  etag: string;
  /** Empty when none was given at upload. */
  contentType: string;
  lastModified: Date;
}

/** An opened object: its metadata, fixed at open, and its bytes on demand. */
export interface ObjectReader {
  readonly meta: ObjectMeta;
  /**
   * Bytes `start` (inclusive) to `end` (exclusive) of the object as opened. Throws CONFLICT when the object
   * was replaced since `open` and the backend cannot serve the old version. Closes the reader when done.
   */
  body(start: number, end: number, signal?: AbortSignal): AsyncIterable<Uint8Array>;
  /** Releases the reader when `body` is not (fully) consumed; idempotent. */
  close(): Promise<void>;
}

export interface WriteOptions {
  contentType: string;
  /** Aborting discards the upload; nothing becomes visible. */
  signal?: AbortSignal;
}

export interface ListQuery {
  /** "" for everything, else objects whose path starts with `prefix + "/"`. */
  prefix: string;
  /** Only paths strictly after this one (UTF-8 byte order). */
  after?: string;
  limit: number;
}

export interface StorageBackend {
  /** Short name shown in health and logs: "memory", "file", "s3". */
  readonly name: string;
  head(path: string): Promise<ObjectMeta | undefined>;
  open(path: string): Promise<ObjectReader | undefined>;
  /**
   * Stores `body` under `path`, atomically: readers see the old object or the complete new one, never a part.
   * If `body` throws or `signal` aborts, nothing is stored and the error is rethrown.
   */
  write(path: string, body: AsyncIterable<Uint8Array>, opts: WriteOptions): Promise<ObjectMeta>;
  /** Returns false when the object did not exist. */
  delete(path: string): Promise<boolean>;
  /** Sorted by UTF-8 bytes; `more` is true when objects beyond `limit` exist. */
  list(q: ListQuery): Promise<{ objects: ObjectMeta[]; more: boolean }>;
  /** Native copy; when absent the service streams the object. Undefined when the source is missing. */
  copy?(source: string, destination: string): Promise<ObjectMeta | undefined>;
  /** Native move; when absent the service copies, then deletes the source. */
  move?(source: string, destination: string): Promise<ObjectMeta | undefined>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Compares paths in UTF-8 byte order, the order every backend lists in (S3's order). */
export const comparePaths: (a: string, b: string) => number = compareUtf8;

/** True when `path` is listed under `prefix` (segment-based: "a/b" holds "a/b/c", not "a/bc" nor "a/b"). */
export function underPrefix(path: string, prefix: string): boolean {
  return prefix === "" || path.startsWith(prefix + "/");
}

/** MD5 of a stream as it passes, for backends that compute their own etags (S3's single-part etag). */
export class EtagHasher {
  private hash: Hash = createHash("md5");
  size = 0;
  update(chunk: Uint8Array) {
    this.hash.update(chunk);
    this.size += chunk.length;
  }
  etag(): string {
    return `"${this.hash.digest("hex")}"`;
  }
}
