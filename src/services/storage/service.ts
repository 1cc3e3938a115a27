/**
 * The one implementation of StorageService. RPC handlers and REST rows both call these methods; path checks,
 * limits, ranges and conditional reads happen here and nowhere else.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type * as pb from "../../../gen/mikcar/storage/v1/storage_pb.js";
import { sidecarError } from "../../shared/errors.js";
import type { ObjectMeta, StorageBackend } from "./backend.js";
import { listPrefix, MAX_PATH_BYTES, objectPath } from "./paths.js";
import { guarded, tooLarge, withIdle } from "./streams.js";

export const DEFAULT_LIST_LIMIT = 1000;
export const MAX_LIST_LIMIT = 10_000;

export interface StorageServiceOptions {
  /** Largest object accepted by Put, Upload, Copy (bytes). */
  maxObjectBytes: number;
  /** Largest object Get returns in one message; bigger ones need Download. */
  maxMessageBytes: number;
  /** Longest pause between upload chunks before the upload is dropped (ms); 0 disables. */
  idleTimeoutMs: number;
}

export function objectInfo(m: ObjectMeta): MessageInitShape<typeof pb.ObjectInfoSchema> {
  return {
    path: m.path,
    size: BigInt(m.size),
    etag: m.etag,
    contentType: m.contentType,
    lastModified: timestampFromDate(m.lastModified),
  };
}

/** If-None-Match semantics (weak comparison, RFC 9110 13.1.2): "*" or any listed tag equal to `etag`. */
export function etagMatches(ifNoneMatch: string, etag: string): boolean {
  const bare = (t: string) =>
    t
      .trim()
      .replace(/^W\//, "")
      .replace(/^"(.*)"$/, "$1");
  if (ifNoneMatch.trim() === "*") return true;
  return ifNoneMatch.split(",").some((t) => bare(t) === bare(etag));
}

/** [start, end) of `range` within an object of `size` bytes; RANGE_NOT_SATISFIABLE when it selects nothing. */
export function resolveRange(range: pb.ByteRange | undefined, size: number): [number, number] {
  if (!range) return [0, size];
  // Negative values can only come from RPC callers; silently serving the whole object would hide their bug.
  if (range.suffixLength < 0n) throw sidecarError("BAD_REQUEST", "range.suffix_length must not be negative");
  if (range.start < 0n) throw sidecarError("BAD_REQUEST", "range.start must not be negative");
  const unsatisfiable = () =>
    sidecarError("RANGE_NOT_SATISFIABLE", `range not satisfiable for an object of ${size} bytes`, { size });
  if (range.suffixLength > 0n) {
    const n = Math.min(size, Number(range.suffixLength));
    if (n === 0) throw unsatisfiable();
    return [size - n, size];
  }
  const start = Number(range.start);
  if (start >= size) throw unsatisfiable();
  if (range.end !== undefined && range.end < range.start)
    throw sidecarError("BAD_REQUEST", "range end is before its start");
  const end = range.end === undefined ? size : Math.min(size, Number(range.end) + 1);
  return [start, end];
}

const MAX_CONTENT_TYPE = 1024;

/**
 * The content type is sent back as a response header on every GET and HEAD: one Node refuses to write (CR, LF,
 * other controls; non-ASCII, which it would mangle as Latin-1) would turn every read of the object into a 500.
 */
export function checkContentType(value: string, field: string): void {
  if (value.length > MAX_CONTENT_TYPE)
    throw sidecarError("BAD_REQUEST", `${field} is longer than ${MAX_CONTENT_TYPE} characters`);
  if (/[^\t\x20-\x7e]/.test(value))
    throw sidecarError("BAD_REQUEST", `${field} must be printable ASCII (it is sent back as a header)`);
}

function notFound(path: string) {
  return sidecarError("NOT_FOUND", `object not found: ${path}`);
}

async function* single(data: Uint8Array) {
  if (data.length > 0) yield data;
}

export function createStorageService(
  backend: StorageBackend,
  opts: StorageServiceOptions,
): ServiceImpl<typeof pb.StorageService> {
  async function copyObject(rawSource: string, rawDestination: string): Promise<ObjectMeta> {
    const source = objectPath(rawSource, "source");
    const destination = objectPath(rawDestination, "destination");
    // S3 refuses a copy onto itself (InvalidRequest) and the streamed copy would rewrite it for nothing.
    if (source === destination) return (await backend.head(source)) ?? Promise.reject(notFound(source));
    if (backend.copy) return (await backend.copy(source, destination)) ?? Promise.reject(notFound(source));
    const reader = await backend.open(source);
    if (!reader) throw notFound(source);
    try {
      if (reader.meta.size > opts.maxObjectBytes) throw tooLarge(opts.maxObjectBytes);
      return await backend.write(destination, reader.body(0, reader.meta.size), {
        contentType: reader.meta.contentType,
      });
    } finally {
      await reader.close();
    }
  }

  return {
    async get(req) {
      const path = objectPath(req.path);
      const reader = await backend.open(path);
      if (!reader) throw notFound(path);
      try {
        const { meta } = reader;
        if (meta.size > opts.maxMessageBytes) {
          throw sidecarError(
            "PAYLOAD_TOO_LARGE",
            `object is ${meta.size} bytes, more than Get returns (${opts.maxMessageBytes}); use Download`,
          );
        }
        const chunks: Uint8Array[] = [];
        for await (const c of reader.body(0, meta.size)) chunks.push(c);
        return { info: objectInfo(meta), data: Buffer.concat(chunks) };
      } finally {
        await reader.close();
      }
    },

    async put(req, ctx) {
      const path = objectPath(req.path);
      checkContentType(req.contentType, "content_type");
      if (req.data.length > opts.maxObjectBytes) throw tooLarge(opts.maxObjectBytes);
      const meta = await backend.write(path, single(req.data), { contentType: req.contentType, signal: ctx.signal });
      return { info: objectInfo(meta) };
    },

    async delete(req) {
      const path = objectPath(req.path);
      if (!(await backend.delete(path))) throw notFound(path);
      return {};
    },

    async head(req) {
      const path = objectPath(req.path);
      const meta = await backend.head(path);
      if (!meta) throw notFound(path);
      const notModified = req.ifNoneMatch !== "" && etagMatches(req.ifNoneMatch, meta.etag);
      return { info: objectInfo(meta), notModified };
    },

    async list(req) {
      const prefix = listPrefix(req.prefix);
      const limit = req.limit === 0 ? DEFAULT_LIST_LIMIT : req.limit;
      if (limit < 1 || limit > MAX_LIST_LIMIT)
        throw sidecarError("BAD_REQUEST", `limit must be between 1 and ${MAX_LIST_LIMIT}, got ${limit}`);
      if (Buffer.byteLength(req.cursor) > MAX_PATH_BYTES)
        throw sidecarError("BAD_REQUEST", `cursor is longer than ${MAX_PATH_BYTES} bytes`);
      const page = await backend.list({ prefix, after: req.cursor === "" ? undefined : req.cursor, limit });
      return { objects: page.objects.map(objectInfo), nextCursor: page.more ? page.objects.at(-1)!.path : "" };
    },

    async *download(req, ctx) {
      const path = objectPath(req.path);
      const reader = await backend.open(path);
      if (!reader) throw notFound(path);
      try {
        const { meta } = reader;
        const info = objectInfo(meta);
        if (req.ifNoneMatch !== "" && etagMatches(req.ifNoneMatch, meta.etag)) {
          yield { part: { case: "header", value: { info, notModified: true } } };
          return;
        }
        const [start, end] = resolveRange(req.range, meta.size);
        const header = { info, offset: BigInt(start), length: BigInt(end - start), partial: req.range !== undefined };
        yield { part: { case: "header", value: header } };
        for await (const chunk of reader.body(start, end, ctx.signal)) yield { part: { case: "chunk", value: chunk } };
      } finally {
        await reader.close();
      }
    },

    async upload(requests, ctx) {
      const it = requests[Symbol.asyncIterator]();
      const first = await withIdle(it.next(), opts.idleTimeoutMs, ctx.signal);
      if (first.done || first.value.part.case !== "metadata") {
        throw sidecarError("BAD_REQUEST", "the first upload message must carry metadata");
      }
      const md = first.value.part.value;
      // Named as the caller sent them: a REST client gave a URL path and a header, not upload metadata.
      const rest = ctx.protocolName === "rest";
      const path = objectPath(md.path, rest ? "path" : "metadata.path");
      checkContentType(md.contentType, rest ? "content-type header" : "metadata.content_type");
      if (md.size !== undefined && md.size < 0n)
        throw sidecarError("BAD_REQUEST", "metadata.size must not be negative");
      if (md.size !== undefined && md.size > BigInt(opts.maxObjectBytes)) throw tooLarge(opts.maxObjectBytes);
      const chunks: AsyncIterator<Uint8Array> = {
        async next() {
          const r = await it.next();
          if (r.done) return { done: true, value: undefined };
          if (r.value.part.case !== "chunk")
            throw sidecarError("BAD_REQUEST", "only the first upload message may carry metadata");
          return { done: false, value: r.value.part.value };
        },
        return: async () => (await it.return?.(), { done: true, value: undefined }),
      };
      const body = guarded(chunks, {
        maxBytes: opts.maxObjectBytes,
        expected: md.size === undefined ? undefined : Number(md.size),
        idleMs: opts.idleTimeoutMs,
        signal: ctx.signal,
      });
      const meta = await backend.write(path, body, { contentType: md.contentType, signal: ctx.signal });
      return { info: objectInfo(meta) };
    },

    async copy(req) {
      return { info: objectInfo(await copyObject(req.source, req.destination)) };
    },

    async move(req) {
      const source = objectPath(req.source, "source");
      const destination = objectPath(req.destination, "destination");
      if (backend.move) {
        const meta = await backend.move(source, destination);
        if (!meta) throw notFound(source);
        return { info: objectInfo(meta) };
      }
      const meta = await copyObject(source, destination);
      if (source !== destination) await backend.delete(source);
      return { info: objectInfo(meta) };
    },
  };
}
