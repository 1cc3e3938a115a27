/** Storage over gRPC (h2c) on the same port as REST: the same service, both ways, and the same errors. */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as pb from "../../gen/mikcar/storage/v1/storage_pb.js";
import { startSidecar, type RunningSidecar } from "../helpers/sidecar.js";
import { pattern } from "./contract-streams.js";
import { raw } from "./http.js";

let s: RunningSidecar;
let client: ReturnType<typeof createClient<typeof pb.StorageService>>;
beforeAll(async () => {
  s = await startSidecar({ services: { storage: "memory://" } });
  client = createClient(pb.StorageService, createGrpcTransport({ baseUrl: s.url }));
});
afterAll(() => s.close());

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    return Code[ConnectError.from(e).code];
  }
}

describe("storage gRPC", () => {
  it("uploads by client stream and downloads by server stream", async () => {
    const size = 3 * 1024 * 1024 + 5;
    async function* parts() {
      yield create(pb.UploadRequestSchema, {
        part: { case: "metadata", value: { path: "g/big.bin", contentType: "application/x-big" } },
      });
      for (let off = 0; off < size; off += 64 * 1024) {
        yield create(pb.UploadRequestSchema, {
          part: { case: "chunk", value: pattern(off, Math.min(64 * 1024, size - off)) },
        });
      }
    }
    const up = await client.upload(parts());
    expect(up.info).toMatchObject({ path: "g/big.bin", size: BigInt(size), contentType: "application/x-big" });

    const chunks: Uint8Array[] = [];
    let header: pb.DownloadHeader | undefined;
    for await (const m of client.download({ path: "g/big.bin" })) {
      if (m.part.case === "header") header = m.part.value;
      else if (m.part.case === "chunk") chunks.push(m.part.value);
    }
    expect(header?.length).toBe(BigInt(size));
    expect(Buffer.concat(chunks).equals(pattern(0, size))).toBe(true);

    const ranged: Uint8Array[] = [];
    for await (const m of client.download({ path: "g/big.bin", range: { start: 100n, end: 199n } })) {
      if (m.part.case === "chunk") ranged.push(m.part.value);
    }
    expect(Buffer.concat(ranged).equals(pattern(100, 100))).toBe(true);
  });

  it("shares objects with REST and reports the same errors", async () => {
    const put = await raw(s.url, "PUT", "/storage/object/shared/a.txt", {
      body: "from rest",
      headers: { "content-type": "text/plain" },
    });
    expect(put.status).toBe(201);
    const got = await client.get({ path: "shared/a.txt" });
    expect(Buffer.from(got.data).toString()).toBe("from rest");
    expect(got.info?.contentType).toBe("text/plain");
    expect(got.info?.etag).toBe(put.headers.etag);

    await client.put({ path: "shared/b.txt", data: Buffer.from("from grpc") });
    expect((await raw(s.url, "GET", "/storage/object/shared/b.txt")).body.toString()).toBe("from grpc");
    expect((await client.head({ path: "shared/b.txt" })).info?.size).toBe(9n);
    expect((await client.list({ prefix: "shared" })).objects.map((o) => o.path)).toEqual([
      "shared/a.txt",
      "shared/b.txt",
    ]);
    expect((await client.copy({ source: "shared/a.txt", destination: "shared/c.txt" })).info?.etag).toBe(
      put.headers.etag,
    );
    await client.move({ source: "shared/c.txt", destination: "shared/d.txt" });
    await client.delete({ path: "shared/d.txt" });

    expect(await code(client.get({ path: "shared/d.txt" }))).toBe("NotFound");
    expect(await code(client.delete({ path: "shared/d.txt" }))).toBe("NotFound");
    expect(await code(client.get({ path: "../etc/passwd" }))).toBe("InvalidArgument");
    expect(await code(client.put({ path: "/abs", data: new Uint8Array() }))).toBe("InvalidArgument");
    const dl = async () => {
      for await (const _ of client.download({ path: "shared/a.txt", range: { start: 1000n } })) void _;
    };
    expect(await code(dl())).toBe("OutOfRange");
    const err = await client.get({ path: "nope/../x" }).catch((e) => ConnectError.from(e));
    expect((err as ConnectError).rawMessage).toBe("Path traversal not allowed");
  });
});
