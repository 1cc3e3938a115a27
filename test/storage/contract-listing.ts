/** Listing half of the storage contract: byte order, prefixes, paging, copy and move. */
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { expect, it } from "vitest";
import * as pb from "../../gen/mikcar/storage/v1/storage_pb.js";
import { ctx, expectCode, md5, type ContractTarget, storageCalls } from "./contract.js";

export function describeListingContract(t: ContractTarget) {
  const quirks = t.quirks;
  const { put, get, head, list } = storageCalls(t);
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
}
