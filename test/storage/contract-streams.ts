/** Streaming half of the storage contract: uploads, downloads, ranges, conditional reads, limits, cut-offs. */
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { expect, it } from "vitest";
import * as pb from "../../gen/mikcar/storage/v1/storage_pb.js";
import { createStorageService } from "../../src/services/storage/service.js";
import { ctx, expectCode, MAX_OBJECT, md5, type ContractTarget } from "./contract.js";

/** Deterministic bytes, so a large object can be checked without keeping a copy. */
export function pattern(offset: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = ((offset + i) * 31 + ((offset + i) >> 12)) & 0xff;
  return b;
}

type Msg = ReturnType<typeof create<typeof pb.UploadRequestSchema>>;
const meta = (path: string, contentType = "", size?: number): Msg =>
  create(pb.UploadRequestSchema, {
    part: { case: "metadata", value: { path, contentType, size: size === undefined ? undefined : BigInt(size) } },
  });
const chunk = (value: Uint8Array): Msg => create(pb.UploadRequestSchema, { part: { case: "chunk", value } });

async function* messages(
  path: string,
  total: number,
  chunkSize: number,
  opts: { failAt?: number; size?: number } = {},
) {
  yield meta(path, "application/x-test", opts.size);
  for (let off = 0; off < total; off += chunkSize) {
    if (opts.failAt !== undefined && off >= opts.failAt) throw new Error("client went away");
    yield chunk(pattern(off, Math.min(chunkSize, total - off)));
  }
}

export function describeStreamContract(t: ContractTarget) {
  const download = async (
    path: string,
    init: { range?: { start?: bigint; end?: bigint; suffixLength?: bigint }; ifNoneMatch?: string } = {},
  ) => {
    const parts = [];
    for await (const m of t.impl.download(create(pb.DownloadRequestSchema, { path, ...init }), ctx("download")))
      parts.push(m);
    const header = parts[0]!.part!.case === "header" ? parts[0]!.part!.value : undefined;
    const body = Buffer.concat(parts.slice(1).map((m) => (m.part?.case === "chunk" ? m.part.value : new Uint8Array())));
    return { header: header!, body, chunks: parts.length - 1 };
  };
  const exists = async (path: string) => (await t.backend.head(path)) !== undefined;

  it("uploads and downloads a large object in chunks", async () => {
    const p = `${t.ns()}/large.bin`;
    const size = 20 * 1024 * 1024 + 12_345; // several S3 parts, not a multiple of anything
    const res = await t.impl.upload(messages(p, size, 1024 * 1024 - 7), ctx("upload"));
    expect(res.info).toMatchObject({ path: p, size: BigInt(size), contentType: "application/x-test" });
    const d = await download(p);
    expect(d.header).toMatchObject({ offset: 0n, length: BigInt(size) });
    expect(d.header.partial ?? false).toBe(false);
    expect(d.chunks).toBeGreaterThan(1);
    expect(d.body.length).toBe(size);
    expect(d.body.equals(pattern(0, size))).toBe(true);
  });

  it("serves byte ranges, suffixes and refuses unsatisfiable ones", async () => {
    const p = `${t.ns()}/r`;
    const data = pattern(0, 1000);
    await t.impl.put(create(pb.PutRequestSchema, { path: p, data }), ctx("put"));
    let d = await download(p, { range: { start: 10n, end: 19n } });
    expect(d.header).toMatchObject({ offset: 10n, length: 10n, partial: true });
    expect(d.body.equals(data.subarray(10, 20))).toBe(true);
    d = await download(p, { range: { start: 990n } });
    expect(d.body.equals(data.subarray(990))).toBe(true);
    d = await download(p, { range: { start: 995n, end: 5000n } });
    expect(d.body.equals(data.subarray(995))).toBe(true);
    d = await download(p, { range: { suffixLength: 3n } });
    expect(d.header).toMatchObject({ offset: 997n, length: 3n });
    expect(d.body.equals(data.subarray(997))).toBe(true);
    d = await download(p, { range: { suffixLength: 5000n } });
    expect(d.body.equals(data)).toBe(true);
    await expectCode(download(p, { range: { start: 1000n } }), Code.OutOfRange, "1000 bytes");
    await expectCode(download(p, { range: { suffixLength: -5n } }), Code.InvalidArgument, "range.suffix_length");
    await expectCode(download(p, { range: { start: -5n } }), Code.InvalidArgument, "range.start");
    await expectCode(download(`${p}-missing`), Code.NotFound);
  });

  it("answers If-None-Match with not_modified and no bytes", async () => {
    const p = `${t.ns()}/etag`;
    const { info } = await t.impl.put(create(pb.PutRequestSchema, { path: p, data: Buffer.from("v1") }), ctx("put"));
    const etag = info!.etag!;
    for (const inm of [etag, `W/${etag}`, `"other", ${etag}`, "*"]) {
      const d = await download(p, { ifNoneMatch: inm });
      expect(d.header.notModified).toBe(true);
      expect(d.chunks).toBe(0);
    }
    const d = await download(p, { ifNoneMatch: '"other"' });
    expect(d.header.notModified ?? false).toBe(false);
    expect(d.body.toString()).toBe("v1");
    expect(etag).toBe(md5(Buffer.from("v1")));
  });

  it("leaves no object, and keeps the old one, when an upload is cut off", async () => {
    const p = `${t.ns()}/cut`;
    await expect(
      t.impl.upload(messages(p, 12 * 1024 * 1024, 512 * 1024, { failAt: 9 * 1024 * 1024 }), ctx("upload")),
    ).rejects.toThrow();
    expect(await exists(p)).toBe(false);
    await t.impl.put(create(pb.PutRequestSchema, { path: p, data: Buffer.from("old") }), ctx("put"));
    await expect(t.impl.upload(messages(p, 1024, 100, { failAt: 500 }), ctx("upload"))).rejects.toThrow();
    const d = await download(p);
    expect(d.body.toString()).toBe("old");
    expect(
      (await t.impl.list(create(pb.ListRequestSchema, { prefix: p.split("/")[0]! }), ctx("list"))).objects?.length,
    ).toBe(1);
  });

  it("leaves no object when the caller cancels mid-upload", async () => {
    const p = `${t.ns()}/cancelled`;
    const ac = new AbortController();
    async function* slow() {
      yield meta(p);
      yield chunk(pattern(0, 1024));
      ac.abort(new Error("cancelled"));
      await new Promise(() => {}); // a client that stalls after going away
    }
    await expect(t.impl.upload(slow(), ctx("upload", ac.signal))).rejects.toThrow();
    expect(await exists(p)).toBe(false);
  });

  it("drops an upload that goes idle", async () => {
    const impl = createStorageService(t.backend, {
      maxObjectBytes: MAX_OBJECT,
      maxMessageBytes: 1 << 20,
      idleTimeoutMs: 50,
    });
    const p = `${t.ns()}/idle`;
    async function* stalls() {
      yield meta(p);
      yield chunk(pattern(0, 10));
      await new Promise(() => {});
    }
    await expectCode(impl.upload(stalls(), ctx("upload")), Code.DeadlineExceeded, "stalled");
    expect(await exists(p)).toBe(false);
  });

  it("enforces the object size limit and the announced size", async () => {
    const impl = createStorageService(t.backend, {
      maxObjectBytes: 1000,
      maxMessageBytes: 1 << 20,
      idleTimeoutMs: 5_000,
    });
    const p = `${t.ns()}/limit`;
    await expectCode(impl.upload(messages(p, 1001, 100), ctx("upload")), Code.ResourceExhausted, "1000 bytes");
    await expectCode(impl.upload(messages(p, 10, 10, { size: 1001 }), ctx("upload")), Code.ResourceExhausted);
    await expectCode(
      impl.put(create(pb.PutRequestSchema, { path: p, data: new Uint8Array(1001) }), ctx("put")),
      Code.ResourceExhausted,
    );
    await expectCode(
      impl.upload(messages(p, 10, 10, { size: 20 }), ctx("upload")),
      Code.InvalidArgument,
      "10 of the announced 20",
    );
    await expectCode(impl.upload(messages(p, 30, 10, { size: 20 }), ctx("upload")), Code.InvalidArgument, "more than");
    expect(await exists(p)).toBe(false);
    await impl.upload(messages(p, 1000, 100, { size: 1000 }), ctx("upload"));
    expect((await t.backend.head(p))?.size).toBe(1000);
  });

  it("refuses malformed upload streams", async () => {
    async function* noMeta() {
      yield chunk(Buffer.from("x"));
    }
    await expectCode(t.impl.upload(noMeta(), ctx("upload")), Code.InvalidArgument, "first upload message");
    const p = `${t.ns()}/twice`;
    async function* twice() {
      yield meta(p);
      yield meta(p);
    }
    await expectCode(t.impl.upload(twice(), ctx("upload")), Code.InvalidArgument, "only the first");
    async function* bad() {
      yield meta("../../x");
    }
    await expectCode(t.impl.upload(bad(), ctx("upload")), Code.InvalidArgument, "Path traversal not allowed");
    expect(await exists(p)).toBe(false);
  });
}
