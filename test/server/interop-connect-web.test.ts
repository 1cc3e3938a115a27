/**
 * connect-web (the browser client) over the platform's fetch against the sidecar: Connect JSON and binary and
 * gRPC-Web, unary and server streaming, errors, metadata both ways, a deadline. TCP only: fetch has no way to
 * reach a Unix socket.
 */
import { Code, ConnectError, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvService } from "../../gen/mikcar/kv/v1/kv_pb.js";
import { QueueService } from "../../gen/mikcar/queue/v1/queue_pb.js";
import { StorageService } from "../../gen/mikcar/storage/v1/storage_pb.js";
import { startSidecar, type RunningSidecar } from "../helpers/sidecar.js";

const TOKEN = "web-token";
let s: RunningSidecar;
beforeAll(async () => {
  s = await startSidecar({ services: { kv: "memory://", queue: "memory://", storage: "memory://" }, authToken: TOKEN });
});
afterAll(() => s.close());

const withToken: Interceptor = (next) => (req) => {
  req.header.set("authorization", `Bearer ${TOKEN}`);
  return next(req);
};

const transports: Record<string, () => Transport> = {
  "connect json": () => createConnectTransport({ baseUrl: s.url, interceptors: [withToken] }),
  "connect binary": () => createConnectTransport({ baseUrl: s.url, useBinaryFormat: true, interceptors: [withToken] }),
  "grpc-web": () => createGrpcWebTransport({ baseUrl: s.url, interceptors: [withToken] }),
};

describe.each(Object.keys(transports))("connect-web %s over fetch", (name) => {
  const t = () => transports[name]!();

  it("sets and gets, and carries metadata both ways", async () => {
    const kv = createClient(KvService, t());
    await kv.set({ key: `web-${name}`, value: new TextEncoder().encode("hi") });
    let trace: string | null = null;
    const got = await kv.get(
      { key: `web-${name}` },
      { headers: { "x-trace-id": `web-${name.replace(" ", "-")}` }, onHeader: (h) => (trace = h.get("x-trace-id")) },
    );
    expect(new TextDecoder().decode(got.value)).toBe("hi");
    expect(trace).toBe(`web-${name.replace(" ", "-")}`);
  });

  it("reports errors with code and message", async () => {
    const kv = createClient(KvService, t());
    const err = await kv.get({ key: "web-missing" }).catch((e) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.NotFound);
    expect((err as ConnectError).rawMessage).toBe("key not found: web-missing");
  });

  it("ends a call at its deadline", async () => {
    const q = createClient(QueueService, t());
    const err = await q
      .pop({ queue: `web-deadline-${name.replace(" ", "-")}`, timeoutSeconds: 20 }, { timeoutMs: 300 })
      .catch((e) => e);
    expect((err as ConnectError).code, String(err)).toBe(Code.DeadlineExceeded);
  });

  it("streams a download", async () => {
    const body = Buffer.alloc(300 * 1024, 2);
    const path = `web-${name.replace(" ", "-")}.bin`;
    const put = await fetch(`${s.url}/storage/object/${path}`, {
      method: "PUT",
      body,
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(put.ok).toBe(true);
    const st = createClient(StorageService, t());
    let size = 0;
    for await (const m of st.download({ path })) if (m.part.case === "chunk") size += m.part.value.length;
    expect(size).toBe(body.length);
  });
});
