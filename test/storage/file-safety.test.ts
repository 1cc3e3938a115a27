/**
 * The file backend's confinement: symlinks pointing out of the root are never followed, the `.mikcar/` area is
 * never exposed, torn or stale metadata never yields a wrong etag, and writes are temp-file-then-rename.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { beforeEach, describe, expect, it } from "vitest";
import * as pb from "../../gen/mikcar/storage/v1/storage_pb.js";
import { FileStorage } from "../../src/services/storage/backends/file.js";
import { createStorageService } from "../../src/services/storage/service.js";
import { ctx, expectCode, type Impl } from "./contract.js";

let root: string;
let outside: string;
let impl: Impl;
let backend: FileStorage;

beforeEach(async () => {
  const base = mkdtempSync(join(tmpdir(), "mikcar-safety-"));
  root = join(base, "root");
  outside = join(base, "outside");
  mkdirSync(outside);
  writeFileSync(join(outside, "secret.txt"), "secret");
  backend = await FileStorage.open(root);
  impl = createStorageService(backend, { maxObjectBytes: 1 << 20, maxMessageBytes: 1 << 20, idleTimeoutMs: 1_000 });
});

const put = (path: string, data: string) =>
  impl.put(create(pb.PutRequestSchema, { path, data: Buffer.from(data) }), ctx("put"));
const get = (path: string) => impl.get(create(pb.GetRequestSchema, { path }), ctx("get"));
const list = async (prefix = "") =>
  ((await impl.list(create(pb.ListRequestSchema, { prefix }), ctx("list"))).objects ?? []).map((o) => o.path);

describe("file backend confinement", () => {
  it("never follows a directory symlink out of the root", async () => {
    symlinkSync(outside, join(root, "link"));
    await expectCode(get("link/secret.txt"), Code.PermissionDenied, "symbolic link");
    await expectCode(put("link/new.txt", "x"), Code.PermissionDenied);
    await expectCode(put("link/sub/new.txt", "x"), Code.PermissionDenied);
    await expectCode(
      impl.delete(create(pb.DeleteRequestSchema, { path: "link/secret.txt" }), ctx("delete")),
      Code.PermissionDenied,
    );
    await expectCode(
      impl.head(create(pb.HeadRequestSchema, { path: "link/secret.txt" }), ctx("head")),
      Code.PermissionDenied,
    );
    expect(await list()).toEqual([]);
    await expectCode(list("link"), Code.PermissionDenied);
    expect(readdirSync(outside)).toEqual(["secret.txt"]);
  });

  it("never reads or writes through a file symlink", async () => {
    symlinkSync(join(outside, "secret.txt"), join(root, "leak"));
    await expectCode(get("leak"), Code.PermissionDenied, "symbolic link");
    // A put replaces the link itself (rename does not follow it); the target is untouched.
    await put("leak", "mine");
    expect(readFileSync(join(outside, "secret.txt"), "utf8")).toBe("secret");
    expect(Buffer.from((await get("leak")).data!).toString()).toBe("mine");
  });

  it("hides the .mikcar area and temp files from listings", async () => {
    await put("a.txt", "a");
    writeFileSync(join(root, ".mikcar", "tmp", "left-by-a-crash"), "torn");
    expect(readdirSync(join(root, ".mikcar"))).toEqual(expect.arrayContaining(["meta", "tmp"]));
    expect(await list()).toEqual(["a.txt"]);
  });

  it("derives a fresh etag when the file changed outside the sidecar", async () => {
    const { info } = await put("doc", "one");
    writeFileSync(join(root, "doc"), "two!");
    const g = await get("doc");
    expect(Buffer.from(g.data!).toString()).toBe("two!");
    expect(g.info?.etag).not.toBe(info?.etag);
    expect(g.info?.size).toBe(4n);
  });

  it("removes directories a delete leaves empty", async () => {
    await put("deep/er/x", "1");
    await impl.delete(create(pb.DeleteRequestSchema, { path: "deep/er/x" }), ctx("delete"));
    expect(readdirSync(root).filter((n) => n !== ".mikcar")).toEqual([]);
  });

  it("serves a reader the version it opened while the object is replaced", async () => {
    await put("v", "first version");
    const reader = (await backend.open("v"))!;
    await put("v", "second");
    const chunks: Uint8Array[] = [];
    for await (const c of reader.body(0, reader.meta.size)) chunks.push(c);
    expect(Buffer.concat(chunks).toString()).toBe("first version");
  });
});
