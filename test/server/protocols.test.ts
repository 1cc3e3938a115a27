/**
 * The same KV calls over every protocol the one port serves: REST (HTTP/1.1), Connect JSON and binary (HTTP/1.1
 * and h2c), gRPC-Web, gRPC (h2c) — over TCP and over a Unix socket. Plus reflection and health via `buf curl`.
 */
import { execFile } from "node:child_process";
import * as http from "node:http";
import * as net from "node:net";
import { promisify } from "node:util";
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvService } from "../../gen/mikcar/kv/v1/kv_pb.js";
import { startSidecar, type RunningSidecar } from "../helpers/sidecar.js";

const run = promisify(execFile);
let s: RunningSidecar;
beforeAll(async () => {
  s = await startSidecar({ services: { kv: "memory://" } }, { socket: true });
});
afterAll(() => s.close());

type Via = "tcp" | "unix";
const base = (via: Via) => (via === "tcp" ? s.url : "http://localhost");
// Over a Unix socket the URL's host is only a label; the connection goes to the socket file.
const h1Options = (via: Via) => (via === "unix" ? { socketPath: s.socket } : {});
const h2Options = (via: Via) => (via === "unix" ? { createConnection: () => net.connect(s.socket!) } : {});

const transports: Record<string, (via: Via) => Transport> = {
  "connect json h1": (via) =>
    createConnectTransport({
      baseUrl: base(via),
      httpVersion: "1.1",
      useBinaryFormat: false,
      nodeOptions: h1Options(via),
    }),
  "connect binary h1": (via) =>
    createConnectTransport({
      baseUrl: base(via),
      httpVersion: "1.1",
      useBinaryFormat: true,
      nodeOptions: h1Options(via),
    }),
  "connect json h2c": (via) =>
    createConnectTransport({
      baseUrl: base(via),
      httpVersion: "2",
      useBinaryFormat: false,
      nodeOptions: h2Options(via),
    }),
  "grpc-web h1": (via) =>
    createGrpcWebTransport({ baseUrl: base(via), httpVersion: "1.1", nodeOptions: h1Options(via) }),
  "grpc h2c": (via) => createGrpcTransport({ baseUrl: base(via), nodeOptions: h2Options(via) }),
};

/** A REST call over HTTP/1.1 via TCP or the Unix socket. */
function rest(via: Via, method: string, path: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      via === "tcp" ? `${s.url}${path}` : "http://localhost" + path,
      via === "tcp" ? { method } : { method, socketPath: s.socket },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode!, text }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

describe.each(["tcp", "unix"] as const)("over %s", (via) => {
  it("REST and every RPC protocol see the same data", async () => {
    const key = `p-${via}`;
    expect((await rest(via, "POST", `/kv/set/${key}`, "from-rest")).status).toBe(200);
    for (const [name, make] of Object.entries(transports)) {
      const kv: Client<typeof KvService> = createClient(KvService, make(via));
      const got = await kv.get({ key });
      expect(new TextDecoder().decode(got.value), name).toBe("from-rest");
      await kv.set({ key: `${key}-${name}`, value: new TextEncoder().encode(name) });
      expect((await rest(via, "GET", `/kv/get/${encodeURIComponent(`${key}-${name}`)}`)).text, name).toBe(name);
      expect((await kv.increment({ key: `${key}-n`, by: 9007199254740993n })).value % 9007199254740993n, name).toBe(0n);
    }
  });

  it("errors carry the same code on RPC and the same status on REST", async () => {
    for (const [name, make] of Object.entries(transports)) {
      const kv = createClient(KvService, make(via));
      await expect(kv.get({ key: "absent" }), name).rejects.toMatchObject({ code: 5 /* NotFound */ });
      await expect(kv.set({ key: "k", ttlSeconds: -1n }), name).rejects.toMatchObject({
        code: 3 /* InvalidArgument */,
      });
    }
    expect((await rest(via, "GET", "/kv/get/absent")).status).toBe(404);
  });
});

describe("server streaming", () => {
  it("Watch streams over gRPC and Connect", async () => {
    for (const name of ["grpc h2c", "connect json h1"]) {
      const kv = createClient(KvService, transports[name]!("tcp"));
      const ac = new AbortController();
      const stream = kv.watch({ prefix: `watch-${name}/` }, { signal: ac.signal });
      const first = (async () => {
        for await (const ev of stream) return ev;
        return undefined;
      })();
      await new Promise((r) => setTimeout(r, 100));
      await rest("tcp", "POST", `/kv/set/${encodeURIComponent(`watch-${name}/a`)}`, "v");
      const ev = await first;
      ac.abort();
      expect(ev?.key, name).toBe(`watch-${name}/a`);
    }
  });
});

describe("buf curl (same protocol and reflection as grpcurl)", () => {
  const buf = (args: string[]) => run("npx", ["buf", "curl", "--http2-prior-knowledge", ...args], { timeout: 30_000 });

  it("lists services through reflection", async () => {
    const { stdout } = await buf(["--protocol", "grpc", "--list-services", s.url]);
    expect(stdout.split("\n")).toEqual(expect.arrayContaining(["mikcar.kv.v1.KvService", "grpc.health.v1.Health"]));
  });

  it("serves the older v1alpha reflection too (what older grpcurl versions ask for)", async () => {
    const { stdout } = await buf([
      "--protocol",
      "grpc",
      "--reflect-protocol",
      "grpc-v1alpha",
      "--list-services",
      s.url,
    ]);
    expect(stdout.split("\n")).toContain("mikcar.kv.v1.KvService");
  });

  it("calls a method through reflection with no proto files", async () => {
    await rest("tcp", "POST", "/kv/set/bufkey", "hi");
    const { stdout } = await buf([
      "--protocol",
      "grpc",
      "-d",
      '{"key":"bufkey"}',
      `${s.url}/mikcar.kv.v1.KvService/Get`,
    ]);
    expect(JSON.parse(stdout)).toEqual({ value: Buffer.from("hi").toString("base64") });
  });

  it("answers grpc.health.v1 Check", async () => {
    const { stdout } = await buf([
      "--protocol",
      "grpc",
      "-d",
      '{"service":"mikcar.kv.v1.KvService"}',
      `${s.url}/grpc.health.v1.Health/Check`,
    ]);
    expect(JSON.parse(stdout)).toEqual({ status: "SERVING" });
  });
});
