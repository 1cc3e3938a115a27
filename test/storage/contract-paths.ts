/** Paths half of the storage contract: special characters, refused paths, ./, content types. */
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { expect, it } from "vitest";
import * as pb from "../../gen/mikcar/storage/v1/storage_pb.js";
import { ctx, expectCode, type ContractTarget, storageCalls } from "./contract.js";

export function describePathContract(t: ContractTarget) {
  const { put, get, head, del, list, byteOrder } = storageCalls(t);
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
    for (const [i, s] of paths.entries()) expect(Buffer.from((await get(`${ns}/${s}`)).data!).toString()).toBe(`v${i}`);
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
}
