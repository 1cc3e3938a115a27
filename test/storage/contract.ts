/**
 * The storage contract: one behaviour suite every backend must pass, run through the one StorageService
 * implementation (what both REST and RPC call). Backend differences are declared as quirks, each with a reason.
 */
import { createHash } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createHandlerContext, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as pb from "../../gen/mikcar/storage/v1/storage_pb.js";
import type { StorageBackend } from "../../src/services/storage/backend.js";
import { createStorageService } from "../../src/services/storage/service.js";
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
  return createHandlerContext({
    service: pb.StorageService,
    method: pb.StorageService.method[method],
    protocolName: "test",
    requestMethod: "POST",
    url: "/",
    requestSignal: signal ?? new AbortController().signal,
  });
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
        paths: quirks.unorderedListing ? paths.sort(byteOrder) : paths,
        objects: r.objects ?? [],
        next: r.nextCursor ?? "",
      };
    };

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

    it("keeps special characters in paths exactly", async () => {
      const ns = t.ns();
      const paths = [
        "sp ace/ünïcødé 😀.txt",
        "q?uery#hash%20&amp=1+plus",
        "back\\slash",
        "semi;colon,comma'quote\"",
        "...dots/..x/x..",
        "ä/.hidden",
      ];
      for (const [i, s] of paths.entries()) await put(`${ns}/${s}`, `v${i}`);
      for (const [i, s] of paths.entries())
        expect(Buffer.from((await get(`${ns}/${s}`)).data!).toString()).toBe(`v${i}`);
      const listed = (await list(ns)).paths;
      expect(listed).toEqual(paths.map((s) => `${ns}/${s}`).sort(byteOrder));
    });

    it("refuses traversal, absolute paths, NUL bytes and the reserved prefix with API.md's messages", async () => {
      const cases: Array<[string, string]> = [
        ["../etc/passwd", "Path traversal not allowed"],
        ["a/../../b", "Path traversal not allowed"],
        ["a/..", "Path traversal not allowed"],
        ["a\\..\\..\\b", "Path traversal not allowed"],
        ["/etc/passwd", "Absolute paths not allowed"],
        ["\\windows\\win.ini", "Absolute paths not allowed"],
        ["C:\\x", "Absolute paths not allowed"],
        ["a\0b", "Null bytes not allowed in path"],
        ["a//b", "empty"],
        ["a/./b", "empty"],
        ["a/", "empty"],
        [".mikcar/meta/x", "reserved"],
        ["", "must not be empty"],
        // A leading "./" goes, and what follows is checked as it stands.
        ["./", "must not be empty"],
        ["./../x", "Path traversal not allowed"],
        ["./a/../b", "Path traversal not allowed"],
        [".\\..\\x", "Path traversal not allowed"],
        [".//etc/passwd", "Absolute paths not allowed"],
        ["./\\x", "Absolute paths not allowed"],
        ["./a\0", "Null bytes not allowed in path"],
        ["./a//b", "empty"],
        ["./a/./b", "empty"],
        ["./.mikcar/x", "reserved"],
      ];
      for (const [p, msg] of cases) {
        await expectCode(put(p, "x"), Code.InvalidArgument, msg);
        await expectCode(get(p), Code.InvalidArgument, msg);
        await expectCode(del(p), Code.InvalidArgument, msg);
      }
      await expectCode(list("../x"), Code.InvalidArgument, "Path traversal not allowed");
      await expectCode(list("/"), Code.InvalidArgument, "Absolute paths not allowed");
    });

    it("takes a leading ./ as the same object, in every operation (mikcar accepts it)", async () => {
      const ns = t.ns();
      const p = `${ns}/file.txt`;
      expect((await put(`./${p}`, "dot", "text/plain")).info?.path).toBe(p);
      expect(Buffer.from((await get(p)).data!).toString()).toBe("dot");
      expect(Buffer.from((await get(`./${p}`)).data!).toString()).toBe("dot");
      expect((await head(`././${p}`)).info?.path).toBe(p);
      const chunks: Uint8Array[] = [];
      for await (const m of t.impl.download(create(pb.DownloadRequestSchema, { path: `./${p}` }), ctx("download"))) {
        if (m.part?.case === "chunk") chunks.push(m.part.value);
      }
      expect(Buffer.concat(chunks).toString()).toBe("dot");
      async function* upload() {
        yield create(pb.UploadRequestSchema, { part: { case: "metadata", value: { path: `./${ns}/up` } } });
        yield create(pb.UploadRequestSchema, { part: { case: "chunk", value: Buffer.from("up") } });
      }
      expect((await t.impl.upload(upload(), ctx("upload"))).info?.path).toBe(`${ns}/up`);
      const copy = await t.impl.copy(
        create(pb.CopyRequestSchema, { source: `./${p}`, destination: `./${ns}/copy` }),
        ctx("copy"),
      );
      expect(copy.info?.path).toBe(`${ns}/copy`);
      // The same object under both spellings: a copy onto itself, not a second object.
      expect(
        (await t.impl.copy(create(pb.CopyRequestSchema, { source: `./${p}`, destination: p }), ctx("copy"))).info?.path,
      ).toBe(p);
      const moved = await t.impl.move(
        create(pb.MoveRequestSchema, { source: `./${ns}/copy`, destination: `./${ns}/moved` }),
        ctx("move"),
      );
      expect(moved.info?.path).toBe(`${ns}/moved`);
      expect((await list(`./${ns}`)).paths).toEqual([`${ns}/file.txt`, `${ns}/moved`, `${ns}/up`]);
      expect((await list(`./${ns}/`)).paths).toEqual([`${ns}/file.txt`, `${ns}/moved`, `${ns}/up`]);
      await del(`./${ns}/moved`);
      await expectCode(head(`${ns}/moved`), Code.NotFound);
    });

    it("refuses a content type that cannot be sent back as an HTTP header", async () => {
      const p = `${t.ns()}/ct`;
      for (const bad of ["text/plain\r\nx-evil: 1", "t\u00ebxt/plain", "a\u0000b", "x/" + "y".repeat(1100)]) {
        await expectCode(put(p, "x", bad), Code.InvalidArgument, "content_type");
      }
      async function* upload() {
        yield create(pb.UploadRequestSchema, { part: { case: "metadata", value: { path: p, contentType: "a\nb" } } });
      }
      await expectCode(t.impl.upload(upload(), ctx("upload")), Code.InvalidArgument, "metadata.content_type");
      await expectCode(head(p), Code.NotFound);
      expect((await put(p, "x", 'text/plain; charset="utf-8"')).info?.contentType).toBe('text/plain; charset="utf-8"');
    });

    it("lists recursively in byte order with segment-based prefixes", async () => {
      const ns = t.ns();
      const names = ["a/1", "a/b/2", "a/b/c/3", "ab/4", "a.txt", "b", "a-z/5"];
      for (const s of names) await put(`${ns}/${s}`, s);
      const all = (await list(ns)).paths.map((p) => p.slice(ns.length + 1));
      expect(all).toEqual(["a-z/5", "a.txt", "a/1", "a/b/2", "a/b/c/3", "ab/4", "b"]);
      expect((await list(`${ns}/a`)).paths.map((p) => p.slice(ns.length + 1))).toEqual(["a/1", "a/b/2", "a/b/c/3"]);
      expect((await list(`${ns}/a/`)).paths.length).toBe(3);
      expect((await list(`${ns}/a/b`)).paths.length).toBe(2);
      expect((await list(`${ns}/nothing`)).paths).toEqual([]);
      expect((await list(`${ns}/b`)).paths).toEqual([]);
      const o = (await list(`${ns}/a/b/c`)).objects[0]!;
      expect(o).toMatchObject({ path: `${ns}/a/b/c/3`, size: 7n, etag: md5(Buffer.from("a/b/c/3")) });
      expect(o.lastModified).toBeDefined();
    });

    it("pages with limit and cursor", async () => {
      const ns = t.ns();
      const names = Array.from({ length: 7 }, (_, i) => `${ns}/p/${String(i).padStart(2, "0")}`);
      for (const p of names) await put(p, "x");
      const seen: string[] = [];
      let cursor = "";
      for (let pages = 0; pages < 10; pages++) {
        const page = await list(`${ns}/p`, 3, cursor);
        expect(page.paths.length).toBeLessThanOrEqual(3);
        seen.push(...page.paths);
        if (!page.next) break;
        expect(page.next).toBe(page.paths.at(-1));
        cursor = page.next;
      }
      expect(seen).toEqual(names);
      expect((await list(`${ns}/p`, 7)).next).toBe("");
      await expectCode(list(ns, 10_001), Code.InvalidArgument, "limit");
    });

    it("copies and moves objects with their content type", async () => {
      const ns = t.ns();
      await put(`${ns}/src`, "payload", "image/png");
      const c = await t.impl.copy(
        create(pb.CopyRequestSchema, { source: `${ns}/src`, destination: `${ns}/dir/copy` }),
        ctx("copy"),
      );
      expect(c.info).toMatchObject({ path: `${ns}/dir/copy`, size: 7n, contentType: "image/png" });
      const mv = await t.impl.move(
        create(pb.MoveRequestSchema, { source: `${ns}/dir/copy`, destination: `${ns}/moved` }),
        ctx("move"),
      );
      expect(mv.info).toMatchObject({ path: `${ns}/moved`, size: 7n, contentType: "image/png" });
      expect(Buffer.from((await get(`${ns}/moved`)).data!).toString()).toBe("payload");
      await expectCode(head(`${ns}/dir/copy`), Code.NotFound);
      expect((await list(ns)).paths).toEqual([`${ns}/moved`, `${ns}/src`]);
      await expectCode(
        t.impl.copy(create(pb.CopyRequestSchema, { source: `${ns}/none`, destination: `${ns}/x` }), ctx("copy")),
        Code.NotFound,
      );
      await expectCode(
        t.impl.move(create(pb.MoveRequestSchema, { source: `${ns}/none`, destination: `${ns}/x` }), ctx("move")),
        Code.NotFound,
      );
      await expectCode(
        t.impl.copy(create(pb.CopyRequestSchema, { source: `${ns}/src`, destination: "../x" }), ctx("copy")),
        Code.InvalidArgument,
        "traversal",
      );
    });

    it("copies and moves an object onto itself as a no-op", async () => {
      const p = `${t.ns()}/self`;
      await put(p, "same", "text/plain");
      const c = await t.impl.copy(create(pb.CopyRequestSchema, { source: p, destination: p }), ctx("copy"));
      expect(c.info).toMatchObject({ path: p, size: 4n, contentType: "text/plain" });
      const mv = await t.impl.move(create(pb.MoveRequestSchema, { source: p, destination: p }), ctx("move"));
      expect(mv.info).toMatchObject({ path: p, size: 4n, contentType: "text/plain" });
      expect(Buffer.from((await get(p)).data!).toString()).toBe("same");
      await expectCode(
        t.impl.copy(create(pb.CopyRequestSchema, { source: `${p}-none`, destination: `${p}-none` }), ctx("copy")),
        Code.NotFound,
      );
      await expectCode(
        t.impl.move(create(pb.MoveRequestSchema, { source: `${p}-none`, destination: `${p}-none` }), ctx("move")),
        Code.NotFound,
      );
    });

    it.skipIf(quirks.noNestedObjects)("holds an object and objects under its path side by side", async () => {
      const ns = t.ns();
      await put(`${ns}/a`, "1");
      await put(`${ns}/a/b`, "2");
      expect((await list(ns)).paths).toEqual([`${ns}/a`, `${ns}/a/b`]);
    });

    it.runIf(quirks.noNestedObjects)(
      "refuses an object where a directory of objects is, and the reverse (409)",
      async () => {
        const ns = t.ns();
        await put(`${ns}/a`, "1");
        await expectCode(put(`${ns}/a/b`, "2"), Code.FailedPrecondition);
        await put(`${ns}/d/e`, "3");
        await expectCode(put(`${ns}/d`, "4"), Code.FailedPrecondition);
        expect(Buffer.from((await get(`${ns}/a`)).data!).toString()).toBe("1");
      },
    );

    it("refuses Get of an object larger than one message, pointing to Download", async () => {
      const p = `${t.ns()}/big`;
      await put(p, new Uint8Array(1024 * 1024 + 1));
      await expectCode(get(p), Code.ResourceExhausted, "Download");
    });

    describeStreamContract(t);
  });
}
