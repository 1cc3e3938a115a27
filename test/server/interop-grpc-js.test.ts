/**
 * A gRPC client we did not write, @grpc/grpc-js with proto-loader reading our .proto files, against the sidecar
 * over TCP and the Unix socket: unary calls, errors (code, message, metadata), request and response metadata,
 * deadlines (and the cancelled handler letting go of its work), gzip both ways, server streaming.
 */
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSidecar, type RunningSidecar } from "../helpers/sidecar.js";

const TOKEN = "interop-token";
const protoDir = fileURLToPath(new URL("../../proto/", import.meta.url));
const defs = protoLoader.loadSync(
  ["mikcar/kv/v1/kv.proto", "mikcar/queue/v1/queue.proto", "mikcar/storage/v1/storage.proto"],
  { includeDirs: [protoDir], longs: String, defaults: true },
);
type Ctor = grpc.ServiceClientConstructor;
const pkg = grpc.loadPackageDefinition(defs) as unknown as {
  mikcar: {
    kv: { v1: { KvService: Ctor } };
    queue: { v1: { QueueService: Ctor } };
    storage: { v1: { StorageService: Ctor } };
  };
};

type Unary = (
  req: object,
  md: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: grpc.requestCallback<unknown>,
) => grpc.ClientUnaryCall;

let s: RunningSidecar;
beforeAll(async () => {
  s = await startSidecar(
    { services: { kv: "memory://", queue: "memory://", storage: "memory://" }, authToken: TOKEN },
    { socket: true },
  );
});
afterAll(() => s.close());

function auth(extra: Record<string, string> = {}): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set("authorization", `Bearer ${TOKEN}`);
  for (const [k, v] of Object.entries(extra)) md.set(k, v);
  return md;
}

interface Outcome {
  value?: Record<string, unknown>;
  error?: grpc.ServiceError;
  headers?: grpc.Metadata;
  trailers?: grpc.Metadata;
}

/** A unary call with everything the client saw: response, error, header and trailer metadata. */
function call(
  client: grpc.Client,
  method: string,
  req: object,
  md = auth(),
  opts: grpc.CallOptions = {},
): Promise<Outcome> {
  return new Promise((resolve) => {
    const out: Outcome = {};
    const c = (client as unknown as Record<string, Unary>)[method]!.call(client, req, md, opts, (err, value) => {
      if (err) out.error = err as grpc.ServiceError;
      else out.value = value as Record<string, unknown>;
      // The status (with trailers) arrives after the callback's data; wait for it.
      setImmediate(() => resolve(out));
    });
    c.on("metadata", (m) => (out.headers = m));
    c.on("status", (st) => (out.trailers = st.metadata));
  });
}

describe.each(["tcp", "unix"] as const)("@grpc/grpc-js over %s", (via) => {
  const target = () => (via === "tcp" ? s.url.replace("http://", "") : `unix:${s.socket}`);
  const make = (Svc: Ctor, options: grpc.ClientOptions = {}) =>
    new Svc(target(), grpc.credentials.createInsecure(), options);
  let kv: grpc.Client;
  beforeAll(() => {
    kv = make(pkg.mikcar.kv.v1.KvService);
  });
  afterAll(() => kv.close());

  it("sets and gets a value", async () => {
    const set = await call(kv, "set", { key: `g-${via}`, value: Buffer.from("v1") });
    expect(set.error).toBeUndefined();
    const got = await call(kv, "get", { key: `g-${via}` });
    expect(Buffer.from(got.value!.value as Buffer).toString()).toBe("v1");
  });

  it("reports errors with their code and message, and refuses a missing token", async () => {
    const missing = await call(kv, "get", { key: "no-such-key" });
    expect(missing.error?.code).toBe(grpc.status.NOT_FOUND);
    expect(missing.error?.details).toBe("key not found: no-such-key");
    const bad = await call(kv, "get", { key: "" });
    expect(bad.error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    const anon = await call(kv, "get", { key: "x" }, new grpc.Metadata());
    expect(anon.error?.code).toBe(grpc.status.UNAUTHENTICATED);
  });

  it("carries metadata both ways", async () => {
    const got = await call(kv, "get", { key: "no-such-key" }, auth({ "x-trace-id": `trace-${via}` }));
    // The trace id the client sent comes back as response metadata.
    expect(got.headers?.get("x-trace-id")).toEqual([`trace-${via}`]);
    expect(got.trailers?.get("grpc-message")).toEqual([]);
  });

  it("ends a call at the client's deadline, and the cancelled handler lets go", async () => {
    const q = make(pkg.mikcar.queue.v1.QueueService);
    try {
      const queue = `deadline-${via}`;
      const started = Date.now();
      const popped = await call(q, "pop", { queue, timeoutSeconds: 20 }, auth(), { deadline: Date.now() + 300 });
      expect(popped.error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
      expect(Date.now() - started).toBeLessThan(5_000);
      // Had the first Pop's long-poll outlived its call, it would take this message and lose it.
      await new Promise((r) => setTimeout(r, 100));
      expect((await call(q, "push", { queue, payload: Buffer.from('"m"') })).error).toBeUndefined();
      const next = await call(q, "pop", { queue, timeoutSeconds: 2 });
      expect(next.value).toMatchObject({ message: { payloadJson: '"m"' } });
    } finally {
      q.close();
    }
  });

  it("compresses with gzip both ways", async () => {
    const gz = make(pkg.mikcar.kv.v1.KvService, {
      "grpc.default_compression_algorithm": grpc.compressionAlgorithms.gzip,
    });
    try {
      const big = Buffer.alloc(64 * 1024, "abc");
      expect((await call(gz, "set", { key: `gz-${via}`, value: big })).error).toBeUndefined();
      const got = await call(gz, "get", { key: `gz-${via}` });
      // grpc-js keeps grpc-encoding to itself; that the reply was compressed is checked in rpc-fast.test.ts.
      expect(Buffer.compare(got.value!.value as Buffer, big)).toBe(0);
    } finally {
      gz.close();
    }
  });

  it("streams a download", async () => {
    const st = make(pkg.mikcar.storage.v1.StorageService);
    try {
      const body = Buffer.alloc(600 * 1024, 1);
      const put = await fetch(`${s.url}/storage/object/dl-${via}.bin`, {
        method: "PUT",
        body,
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(put.ok).toBe(true);
      const parts = await new Promise<Array<{ header?: unknown; chunk?: Buffer }>>((resolve, reject) => {
        const got: Array<{ header?: unknown; chunk?: Buffer }> = [];
        const stream = (
          st as unknown as { download: (r: object, md: grpc.Metadata) => grpc.ClientReadableStream<never> }
        ).download({ path: `dl-${via}.bin` }, auth());
        stream.on("data", (m) => got.push(m));
        stream.on("error", reject);
        stream.on("end", () => resolve(got));
      });
      expect(parts[0]!.header).toBeDefined();
      const bytes = Buffer.concat(parts.slice(1).map((p) => p.chunk!));
      expect(bytes.length).toBe(body.length);
    } finally {
      st.close();
    }
  });
});
