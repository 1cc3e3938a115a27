/**
 * The storage contract: one behaviour suite every backend must pass, run through the one StorageService
 * implementation (what both REST and RPC call). Backend differences are declared as quirks, each with a reason.
 */
import { createHash } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as pb from "../../gen/mikcar/storage/v1/storage_pb.js";
import type { StorageBackend } from "../../src/services/storage/backend.js";
import { createStorageService } from "../../src/services/storage/service.js";
import { handlerContext } from "../helpers/rpc.js";
import { describeListingContract } from "./contract-listing.js";
import { describePathContract } from "./contract-paths.js";
import { describeStreamContract } from "./contract-streams.js";

export interface StorageQuirks {
  /** The file backend cannot hold both "a" and "a/b" (a file cannot also be a directory): 409 instead. */
  noNestedObjects?: boolean;
  /** Content types an object uploaded without one reports (S3 servers fill in a default of their own). */
  defaultContentTypes?: string[];
  /** The server lists in an order of its own rather than UTF-8 byte order: compare listings as sets. */
  unorderedListing?: boolean;
}

export type Impl = ServiceImpl<typeof pb.StorageService>;

export interface ContractTarget {
  impl: Impl;
  backend: StorageBackend;
  quirks: StorageQuirks;
  /** A fresh path prefix per test, so tests never see each other's objects. */
  ns(): string;
}

export const MAX_OBJECT = 64 * 1024 * 1024;

export function ctx(method: keyof typeof pb.StorageService.method, signal?: AbortSignal): HandlerContext {
  return handlerContext(pb.StorageService, method, signal);
}

export const md5 = (b: Uint8Array) => `"${createHash("md5").update(b).digest("hex")}"`;

/** Rejects with a ConnectError of `code` whose message contains `text`. */
export async function expectCode(p: unknown, code: Code, text?: string) {
  const err = await Promise.resolve(p).then(
    () => undefined,
    (e) => e,
  );
  expect(err, "expected an error").toBeInstanceOf(ConnectError);
  expect(Code[(err as ConnectError).code]).toBe(Code[code]);
  if (text) expect((err as ConnectError).rawMessage).toContain(text);
}

/** One-line calls of the service under test, shared by the contract's files. */
export function storageCalls(t: ContractTarget) {
  const put = (path: string, data: string | Uint8Array, contentType = "") =>
    t.impl.put(
      create(pb.PutRequestSchema, { path, data: typeof data === "string" ? Buffer.from(data) : data, contentType }),
      ctx("put"),
    );
  const get = (path: string) => t.impl.get(create(pb.GetRequestSchema, { path }), ctx("get"));
  const head = (path: string) => t.impl.head(create(pb.HeadRequestSchema, { path }), ctx("head"));
  const del = (path: string) => t.impl.delete(create(pb.DeleteRequestSchema, { path }), ctx("delete"));
  const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
  const list = async (prefix: string, limit = 0, cursor = "") => {
    const r = await t.impl.list(create(pb.ListRequestSchema, { prefix, limit, cursor }), ctx("list"));
    const paths = (r.objects ?? []).map((o) => o.path ?? "");
    return {
      paths: t.quirks.unorderedListing ? paths.sort(byteOrder) : paths,
      objects: r.objects ?? [],
      next: r.nextCursor ?? "",
    };
  };

  return { put, get, head, del, list, byteOrder };
}

export function describeStorageContract(name: string, open: () => Promise<StorageBackend>, quirks: StorageQuirks = {}) {
  describe(`storage contract: ${name}`, () => {
    let n = 0;
    const t = { quirks, ns: () => `t${Date.now().toString(36)}x${n++}` } as ContractTarget;
    beforeAll(async () => {
      t.backend = await open();
      t.impl = createStorageService(t.backend, {
        maxObjectBytes: MAX_OBJECT,
        maxMessageBytes: 1024 * 1024,
        idleTimeoutMs: 5_000,
      });
    });
    afterAll(() => t.backend?.close());

    const { put, get, head, del } = storageCalls(t);

    it("puts, gets, heads and deletes an object with its metadata", async () => {
      const p = `${t.ns()}/docs/readme.txt`;
      const before = Date.now();
      const res = await put(p, "hello world", "text/plain; charset=utf-8");
      expect(res.info?.etag).toBe(md5(Buffer.from("hello world")));
      const g = await get(p);
      expect(Buffer.from(g.data!).toString()).toBe("hello world");
      expect(g.info).toMatchObject({
        path: p,
        size: 11n,
        contentType: "text/plain; charset=utf-8",
        etag: res.info?.etag,
      });
      const h = await head(p);
      expect(h.info).toMatchObject({ path: p, size: 11n, etag: res.info?.etag });
      const lm = timestampDate(create(pb.ObjectInfoSchema, h.info).lastModified!).getTime();
      expect(lm).toBeGreaterThan(before - 5_000);
      await del(p);
      await expectCode(get(p), Code.NotFound, p);
      await expectCode(head(p), Code.NotFound);
      await expectCode(del(p), Code.NotFound);
    });

    it("replaces an object and reports no content type when none was given", async () => {
      const p = `${t.ns()}/x.bin`;
      await put(p, "one", "text/plain");
      await put(p, new Uint8Array([0, 1, 2, 255]));
      const g = await get(p);
      expect([...g.data!]).toEqual([0, 1, 2, 255]);
      expect(quirks.defaultContentTypes ?? [""]).toContain(g.info?.contentType);
    });

    it("stores empty objects", async () => {
      const p = `${t.ns()}/empty`;
      await put(p, "");
      expect((await head(p)).info?.size).toBe(0n);
      expect((await get(p)).data?.length ?? 0).toBe(0);
    });

    it("refuses Get of an object larger than one message, pointing to Download", async () => {
      const p = `${t.ns()}/big`;
      await put(p, new Uint8Array(1024 * 1024 + 1));
      await expectCode(get(p), Code.ResourceExhausted, "Download");
    });

    describePathContract(t);
    describeListingContract(t);
    describeStreamContract(t);
  });
}
