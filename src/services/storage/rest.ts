/**
 * The storage rows of the REST table (API.md, Storage): mikcar's paths onto the one StorageService
 * implementation. Object bodies stream both ways: PUT feeds the request stream to `upload`, GET pipes
 * `download`'s chunks to the response, so no object is ever held in memory here.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import * as pb from "../../../gen/mikcar/storage/v1/storage_pb.js";
import { ErrorKinds, SidecarError, sidecarError, toEnvelope } from "../../shared/errors.js";
import { objectPath } from "./paths.js";
import { jsonObject, jsonString, queryInt } from "../../shared/rest-params.js";
import type { RestRequest, RestResponse, RestRoute } from "../../shared/rest-route.js";

const m = pb.StorageService.method;
const DEFAULT_TYPE = "application/octet-stream";
/** Downloads up to this size are collected and sent as one body rather than streamed. */
const SMALL_BODY = 64n * 1024n;

/** A single `bytes=` range; anything else (several ranges, bad syntax) is ignored, as RFC 9110 allows. */
export function parseRange(header: string | undefined): pb.ByteRange | undefined {
  const match = header?.trim().match(/^bytes=(\d{0,15})-(\d{0,15})$/i);
  if (!match) return undefined;
  const [, a, b] = match;
  if (a === "" && b === "") return undefined;
  // "-0" selects no bytes, so it is unsatisfiable (RFC 9110 14.1.1); suffix_length 0 would mean "no suffix", so
  // ask for a start past any object instead, which the service answers with 416 and the object's size.
  if (a === "")
    return create(pb.ByteRangeSchema, BigInt(b!) === 0n ? { start: (1n << 63n) - 1n } : { suffixLength: BigInt(b!) });
  if (b !== "" && BigInt(b!) < BigInt(a!)) return undefined;
  return create(pb.ByteRangeSchema, { start: BigInt(a!), end: b === "" ? undefined : BigInt(b!) });
}

/** What the service returns: message init shapes (fields optional). */
type Info = MessageInitShape<typeof pb.ObjectInfoSchema> | undefined;
type DownloadPart = MessageInitShape<typeof pb.DownloadResponseSchema>;

function lastModified(info: Info): Date {
  const ts = info?.lastModified;
  return new Date(Number(ts?.seconds ?? 0n) * 1000 + Math.floor((ts?.nanos ?? 0) / 1e6));
}

/** Headers every object response carries. */
function objectHeaders(info: Info): Record<string, string> {
  return {
    etag: info?.etag ?? "",
    "last-modified": lastModified(info).toUTCString(),
    "content-type": info?.contentType || DEFAULT_TYPE,
    "accept-ranges": "bytes",
  };
}

function header(r: RestRequest, name: string): string {
  const v = r.headers[name];
  return Array.isArray(v) ? v.join(", ") : (v ?? "");
}

/** The upload as UploadRequest messages: metadata first, then the request body's chunks as they arrive. */
async function* uploadMessages(r: RestRequest, path: string): AsyncGenerator<pb.UploadRequest> {
  const declared = header(r, "content-length");
  const size = /^\d{1,15}$/.test(declared) ? BigInt(declared) : undefined;
  const metadata = { path, contentType: header(r, "content-type"), size };
  yield create(pb.UploadRequestSchema, { part: { case: "metadata", value: metadata } });
  for await (const chunk of r.stream)
    yield create(pb.UploadRequestSchema, { part: { case: "chunk", value: chunk as Buffer } });
}

async function* chunksOf(it: AsyncIterator<DownloadPart>): AsyncGenerator<Uint8Array> {
  try {
    for (let r = await it.next(); !r.done; r = await it.next()) {
      if (r.value.part?.case === "chunk") yield r.value.part.value;
    }
  } finally {
    await it.return?.();
  }
}

export function storageRoutes(storage: ServiceImpl<typeof pb.StorageService>): RestRoute[] {
  async function download(r: RestRequest): Promise<RestResponse> {
    const req = create(pb.DownloadRequestSchema, {
      path: r.params["*"] ?? "",
      range: parseRange(header(r, "range") || undefined),
      ifNoneMatch: header(r, "if-none-match"),
    });
    const it = storage.download(req, r.context(m.download))[Symbol.asyncIterator]();
    let first: IteratorResult<DownloadPart>;
    try {
      first = await it.next();
    } catch (err) {
      if (err instanceof SidecarError && err.kind === ErrorKinds.RANGE_NOT_SATISFIABLE) {
        return { status: 416, headers: { "content-range": `bytes */${err.extra.size}` }, json: toEnvelope(err) };
      }
      throw err;
    }
    if (first.done || first.value.part?.case !== "header")
      throw sidecarError("INTERNAL_ERROR", "download sent no header");
    const h = first.value.part.value;
    const headers: Record<string, string | number> = objectHeaders(h.info);
    if (h.notModified) {
      await it.return?.();
      delete headers["content-type"];
      return { status: 304, headers };
    }
    headers["content-length"] = Number(h.length);
    if (h.partial) {
      const offset = h.offset ?? 0n;
      headers["content-range"] = `bytes ${offset}-${offset + (h.length ?? 0n) - 1n}/${h.info?.size ?? 0n}`;
    }
    const status = h.partial ? 206 : 200;
    if (h.length !== undefined && h.length <= SMALL_BODY) {
      // A small object is in memory in one piece already: sent as a body it skips the stream plumbing (a
      // Readable, a pipeline, idle timers), which costs more than reading the object did.
      const parts: Uint8Array[] = [];
      for await (const c of chunksOf(it)) parts.push(c);
      return { status, headers, body: parts.length === 1 ? parts[0]! : Buffer.concat(parts) };
    }
    return { status, headers, stream: chunksOf(it) };
  }

  const objectRows: RestRoute[] = [
    // "stream": the dispatcher reads nothing and the row bounds its own time, as for PUT.
    { method: "GET", path: "/object/*", body: "stream", untimed: true, handle: download },
    {
      method: "HEAD",
      path: "/object/*",
      body: "none",
      async handle(r) {
        const { info, notModified } = await storage.head(
          create(pb.HeadRequestSchema, { path: r.params["*"] ?? "", ifNoneMatch: header(r, "if-none-match") }),
          r.context(m.head),
        );
        if (notModified) {
          const { "content-type": _, ...headers } = objectHeaders(info);
          return { status: 304, headers };
        }
        return {
          headers: {
            ...objectHeaders(info),
            "content-length": Number(info?.size ?? 0n),
            "x-object-size": String(info?.size ?? 0n),
            "x-last-modified": lastModified(info).toISOString(),
          },
        };
      },
    },
    {
      method: "PUT",
      path: "/object/*",
      body: "stream",
      untimed: true,
      async handle(r) {
        const path = r.params["*"] ?? "";
        const { info } = await storage.upload(uploadMessages(r, path), r.context(m.upload));
        // The object's name: a leading "./" in the URL is not part of it.
        return {
          status: 201,
          headers: { etag: info?.etag ?? "" },
          json: { path: info?.path ?? path, status: "created" },
        };
      },
    },
    {
      method: "DELETE",
      path: "/object/*",
      body: "none",
      async handle(r) {
        const path = r.params["*"] ?? "";
        await storage.delete(create(pb.DeleteRequestSchema, { path }), r.context(m.delete));
        return { json: { path: objectPath(path), status: "deleted" } };
      },
    },
  ];

  const listRows = ["/list", "/list/*"].map(
    (path): RestRoute => ({
      method: "GET",
      path,
      body: "none",
      async handle(r) {
        const req = create(pb.ListRequestSchema, {
          prefix: r.params["*"] ?? "",
          limit: Number(queryInt(r.query, "limit", 0n, { min: 1n, max: 10_000n })),
          cursor: r.query.get("offset") ?? "",
        });
        const res = await storage.list(req, r.context(m.list));
        const objects = (res.objects ?? []).map((o) => ({
          location: o.path,
          size: o.size,
          last_modified: lastModified(o).toISOString(),
          e_tag: o.etag,
        }));
        return { json: { objects, next_offset: res.nextCursor || null } };
      },
    }),
  );

  // Not in mikcar: copy and move, which WASI blobstore defines.
  const transferRows = (["copy", "move"] as const).map(
    (op): RestRoute => ({
      method: "POST",
      path: `/${op}`,
      body: "json",
      async handle(r) {
        const body = jsonObject(r.json);
        const req = { source: jsonString(body, "source"), destination: jsonString(body, "destination") };
        const res =
          op === "copy"
            ? await storage.copy(create(pb.CopyRequestSchema, req), r.context(m.copy))
            : await storage.move(create(pb.MoveRequestSchema, req), r.context(m.move));
        const path = res.info?.path ?? req.destination;
        return { headers: { etag: res.info?.etag ?? "" }, json: { path, status: op === "copy" ? "copied" : "moved" } };
      },
    }),
  );

  return [...objectRows, ...listRows, ...transferRows];
}
